#!/usr/bin/env python3
"""edxml_attachments.py FILE: prints the SHA-256 of each attachment of the
edXML message FILE, decoded from its base64, one per line, sorted (a test
helper: the fixtures are trusted, read whole with the standard library)."""

import base64
import hashlib
import sys
import xml.etree.ElementTree as ET

NS = "{http://www.mic.gov.vn/TBT/QCVN_102_2016}"
root = ET.parse(sys.argv[1]).getroot()
digests = []
for att in root.iter(NS + "Attachment"):
    enc = att.find(NS + "ContentTransferEncoded")
    if enc is None:
        continue
    data = base64.b64decode("".join((enc.text or "").split()))
    digests.append(hashlib.sha256(data).hexdigest())
print("\n".join(sorted(digests)))
