"""Drafts from the agency's own files and in the System's own layout: Word and OpenDocument
conversion (:mod:`.convert`), the text of a page with positions (:mod:`.textlayer`), the
places of the number, the date and the signature found from that text (:mod:`.places`),
and the upload pipeline that ties them together (:mod:`.drafts`)."""
