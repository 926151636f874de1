"""Print the kiosk wheel's runtime requirements for the image, one per word (see customize.sh)."""

import sys
import zipfile
from email.parser import Parser

# Taken from Debian or replaced: the reasons are in customize.sh and docs/appliance.md.
SUBSTITUTE = {"pyscard": None, "pygame": "pygame-ce>=2.5"}
EXTRA = ["lgpio>=0.2.2.0"]


def requirements(wheel: str) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(name).decode())
    result = []
    for line in metadata.get_all("Requires-Dist") or []:
        if "extra ==" in line:
            continue
        project = line.split(";")[0].strip()
        key = project.split(">")[0].split("=")[0].split("<")[0].split("[")[0].strip().lower()
        if key in SUBSTITUTE:
            if SUBSTITUTE[key]:
                result.append(SUBSTITUTE[key])
        else:
            result.append(project.replace(" ", ""))
    return result + EXTRA


if __name__ == "__main__":
    print(" ".join(requirements(sys.argv[1])))
