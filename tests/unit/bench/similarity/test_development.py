from bench.calibration import PACKAGES as CALIBRATION_SOURCES
from bench.similarity.development import development_files
from bench.similarity.heldout import HELDOUT_PACKAGES, RESERVED_PACKAGES, package_files


def test_development_images_come_from_calibration_packages_only() -> None:
    files = list(development_files())
    assert files, "install lxde-icon-theme, mate-backgrounds and desktop-base"
    assert {source for source, _path in files} <= set(CALIBRATION_SOURCES)
    forbidden = {
        path
        for package in (*HELDOUT_PACKAGES, *RESERVED_PACKAGES)
        for path in package_files(package)
    }
    assert not forbidden & {path for _source, path in files}
    assert not any({"login", "previews"} & set(path.parts) for _source, path in files)
