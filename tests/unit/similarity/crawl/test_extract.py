"""HTML extraction finds every kind of image reference and link, resolved and canonical."""

from hypothesis import given
from hypothesis import strategies as st

from similarity.crawl.extract import extract_page, srcset_urls

PAGE = "http://shop.example/catalog/item"


def images(html: str) -> dict[str, str]:
    return {ref.url: ref.source for ref in extract_page(html.encode(), PAGE).images}


def test_img_src_and_lazy_data_src() -> None:
    assert images('<img src="a.png"><img data-src="/b.jpg">') == {
        "http://shop.example/catalog/a.png": "img",
        "http://shop.example/b.jpg": "img",
    }


def test_srcset_candidates() -> None:
    found = images('<img srcset="s.png 1x, l.png 2x">')
    assert found == {
        "http://shop.example/catalog/s.png": "srcset",
        "http://shop.example/catalog/l.png": "srcset",
    }


def test_picture_sources() -> None:
    assert images('<picture><source srcset="p.webp 640w"><img></picture>') == {
        "http://shop.example/catalog/p.webp": "picture"
    }


def test_open_graph_and_twitter_meta() -> None:
    found = images(
        '<meta property="og:image" content="/og.png"><meta name="twitter:image" content="/tw.png">'
    )
    assert found == {"http://shop.example/og.png": "meta", "http://shop.example/tw.png": "meta"}


def test_css_urls_in_style_attributes_and_blocks() -> None:
    found = images(
        '<style>.x { background: url("/bg.png") }</style>'
        '<div style="background-image:url(inline.jpg)">'
    )
    assert found == {
        "http://shop.example/bg.png": "css",
        "http://shop.example/catalog/inline.jpg": "style",
    }


def test_base_href_changes_resolution() -> None:
    page = extract_page(
        b'<base href="https://cdn.example/assets/"><img src="x.png"><a href="next">n</a>', PAGE
    )
    assert [ref.url for ref in page.images] == ["https://cdn.example/assets/x.png"]
    assert page.links == ("https://cdn.example/assets/next",)


def test_links_are_canonical_deduplicated_and_web_only() -> None:
    page = extract_page(
        b'<a href="/a#1">a</a><a href="/a#2">a</a><a href="mailto:x@y">m</a>'
        b'<a href="javascript:void(0)">j</a>'
        b'<area href="/b">',
        PAGE,
    )
    assert page.links == ("http://shop.example/a", "http://shop.example/b")


def test_enormous_and_malformed_urls_are_reported_not_followed() -> None:
    page = extract_page(f'<a href="/{"x" * 100_000}">x</a><img src="http://[::1">'.encode(), PAGE)
    assert page.links == ()
    assert page.images == ()
    assert len(page.invalid) == 2


def test_malformed_html_still_yields_its_image() -> None:
    page = extract_page(
        b"<html><body><div><p><img alt=x src=/w.png><a href=/g>g<table><tr><td></div>\x00\xff<<<",
        PAGE,
    )
    assert [ref.url for ref in page.images] == ["http://shop.example/w.png"]
    assert page.links == ("http://shop.example/g",)


@given(
    st.lists(st.from_regex(r"[a-z]{1,8}\.(png|jpg)", fullmatch=True), min_size=1, max_size=5),
    st.data(),
)
def test_srcset_returns_every_candidate_url(urls: list[str], data: st.DataObject) -> None:
    descriptors = [data.draw(st.sampled_from(["", " 1x", " 2x", " 640w"])) for _ in urls]
    srcset = ", ".join(url + descriptor for url, descriptor in zip(urls, descriptors, strict=True))
    assert srcset_urls(srcset) == urls
