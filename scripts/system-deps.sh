#!/usr/bin/env bash
# Install the Debian packages EDMS needs, when running as root and they are missing.
# Not root: print what is missing and carry on (the tests that need a package say so).
set -euo pipefail
# libreoffice-writer-nogui: Word/OpenDocument drafts to PDF (edms.drafting.convert), with
# fonts-liberation2 (Times New Roman's metrics, every Vietnamese letter) and
# fonts-dejavu-core as its fallback.
PACKAGES=(libmagic1 fonts-liberation2 fonts-dejavu-core poppler-utils softhsm2 libnss3-tools
          tesseract-ocr tesseract-ocr-vie ghostscript zbar-tools chromium
          libreoffice-writer-nogui)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "warning: missing Debian packages (install them as root): ${missing[*]}" >&2
fi
