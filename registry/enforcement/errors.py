"""Enforcement errors a user or an accused party can cause, each a kind of the root error."""

from __future__ import annotations

from registry.errors import Conflict, Forbidden, Invalid, NotFound, Unavailable


class IllegalTransition(Conflict):
    """The case is not in a state from which the asked step can be taken."""

    code = "case_transition_illegal"


class AlertNotEnforceable(Conflict):
    """An alert that no person has confirmed, or that another case already holds."""

    code = "case_alert_not_enforceable"


class NoticeAlreadySent(Conflict):
    """A second notice for one case needs an explicit resend confirmation."""

    code = "case_notice_already_sent"


class ProfileIncomplete(Conflict):
    """A notice must name the complaining party; the profile lacks what it needs."""

    code = "case_profile_incomplete"


class InvalidCaseRequest(Invalid):
    """A case request that breaks a rule: no alerts, alerts on several sites, bad addresses."""

    code = "case_invalid"


class ResponseLinkInvalid(NotFound):
    """A response link whose token does not belong to the case it names (or no such case).

    A NotFound, so that a wrong token says nothing about whether the case exists.
    """

    code = "case_response_link_invalid"


class LicenceNotFound(Forbidden):
    """A licence claim the licence check does not confirm for the claimed domain."""

    code = "case_licence_not_found"


class MailUnavailable(Unavailable):
    """The notice could not be handed to the mail server; nothing was recorded."""

    code = "case_mail_unavailable"


class DisputeRefused(Conflict):
    """A dispute that cannot be opened or decided as asked (not a conflict, already decided)."""

    code = "ownership_dispute_refused"
