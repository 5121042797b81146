# Writes sample.pdf, the xpdf preset's document: three pages, each a big page number on its own colour, so that
# the next page (a key press in xpdf) changes the picture. Plain PDF 1.4 by hand, no library; run once.
pages = [("Page 1", "1 0.85 0.85"), ("Page 2", "0.85 1 0.85"), ("Page 3", "0.85 0.85 1")]
objects = []
kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(len(pages)))
objects.append("<< /Type /Catalog /Pages 2 0 R >>")
objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>")
font = 3 + 2 * len(pages)
for i, (text, rgb) in enumerate(pages):
    stream = f"{rgb} rg 0 0 612 792 re f 0 0 0 rg BT /F1 96 Tf 120 400 Td ({text}) Tj ET"
    objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 {font} 0 R >> >> /Contents {4 + 2 * i} 0 R >>")
    objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
objects.append("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
out = b"%PDF-1.4\n"
offsets = []
for n, body in enumerate(objects, 1):
    offsets.append(len(out))
    out += f"{n} 0 obj\n{body}\nendobj\n".encode()
xref = len(out)
out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
out += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode()
out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
open(__file__.replace("makeSample.py", "sample.pdf"), "wb").write(out)
