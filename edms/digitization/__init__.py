"""Digitizing paper results: scans → PDF/A with a Vietnamese OCR layer → dossier metadata
→ agency-signed electronic copy (domain-vn.md §9). Stages: :mod:`.intake`, :mod:`.ocr`,
:mod:`.stamp`; :mod:`.pipeline` runs them and registers the result."""
