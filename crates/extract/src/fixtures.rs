//! Small, valid (or deliberately broken) documents built in code, for tests here and in the
//! crates that drive the sandbox. Enabled by the `fixtures` feature.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Cursor, Write as _};

use zip::{CompressionMethod, ZipWriter, write::SimpleFileOptions};

/// A ZIP archive with the given entries, deflated.
pub fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    for (name, content) in entries {
        writer.start_file(*name, options).unwrap();
        writer.write_all(content).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

/// `word/document.xml` around a body of WordprocessingML paragraphs.
pub fn document_xml(body: &str) -> String {
    format!(
        "<w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\">\
         <w:body>{body}<w:sectPr/></w:body></w:document>"
    )
}

/// A minimal .docx whose body is the given WordprocessingML.
pub fn docx_with_body(body: &str) -> Vec<u8> {
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n{}",
        document_xml(body)
    );
    zip(&[
        ("[Content_Types].xml", CONTENT_TYPES.as_bytes()),
        ("word/document.xml", xml.as_bytes()),
    ])
}

/// A minimal .docx with one paragraph per string.
pub fn docx(paragraphs: &[&str]) -> Vec<u8> {
    let body: String = paragraphs
        .iter()
        .map(|text| format!("<w:p><w:r><w:t>{}</w:t></w:r></w:p>", xml_escape(text)))
        .collect();
    docx_with_body(&body)
}

/// A .docx whose body text is `inflated_bytes` zeros, built without ever holding them: the
/// deflate stream is one compressed mebibyte repeated, each copy independent of the others.
#[cfg(test)]
pub(crate) fn docx_bomb(inflated_bytes: u64) -> Vec<u8> {
    use flate2::{Compress, Compression, FlushCompress};

    const CHUNK: u64 = 1024 * 1024;
    let prefix = b"<w:document><w:body><w:p><w:r><w:t>";
    let zeros = vec![b'0'; CHUNK as usize];
    let mut compress = Compress::new(Compression::best(), false);
    let mut head = Vec::with_capacity(64 * 1024);
    compress
        .compress_vec(prefix, &mut head, FlushCompress::Full)
        .unwrap();
    let mut block = Vec::with_capacity(64 * 1024);
    let mut fresh = Compress::new(Compression::best(), false);
    fresh
        .compress_vec(&zeros, &mut block, FlushCompress::Full)
        .unwrap();
    assert_eq!(
        fresh.total_in(),
        CHUNK,
        "one call compresses the whole chunk"
    );

    let copies = inflated_bytes / CHUNK;
    let mut deflated = head;
    for _ in 0..copies {
        deflated.extend_from_slice(&block);
    }
    // An empty final block with fixed Huffman codes ends the stream.
    deflated.extend_from_slice(&[0x03, 0x00]);
    let inflated = prefix.len() as u64 + copies * CHUNK;
    stored_zip_entry("word/document.xml", &deflated, inflated)
}

/// One deflated entry written by hand, so the test controls the compressed bytes. The CRC is
/// left zero: a reader that stops at its limit never gets to check it.
#[cfg(test)]
fn stored_zip_entry(name: &str, deflated: &[u8], inflated: u64) -> Vec<u8> {
    let size = |n: u64| u32::try_from(n).unwrap().to_le_bytes();
    let name_len = u16::try_from(name.len()).unwrap().to_le_bytes();
    let mut out = Vec::new();
    out.extend_from_slice(b"PK\x03\x04\x14\x00\x00\x00\x08\x00\x00\x00\x21\x00");
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&size(deflated.len() as u64));
    out.extend_from_slice(&size(inflated));
    out.extend_from_slice(&name_len);
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(deflated);
    let directory_at = out.len();
    out.extend_from_slice(b"PK\x01\x02\x14\x00\x14\x00\x00\x00\x08\x00\x00\x00\x21\x00");
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&size(deflated.len() as u64));
    out.extend_from_slice(&size(inflated));
    out.extend_from_slice(&name_len);
    out.extend_from_slice(&[0; 12]);
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(name.as_bytes());
    let directory_len = out.len() - directory_at;
    out.extend_from_slice(b"PK\x05\x06\x00\x00\x00\x00\x01\x00\x01\x00");
    out.extend_from_slice(&size(directory_len as u64));
    out.extend_from_slice(&size(directory_at as u64));
    out.extend_from_slice(&[0, 0]);
    out
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#;

/// A valid PDF with one page per string; each line of a string is its own text object, in
/// Helvetica, so the text is plain ASCII.
pub fn pdf(pages: &[&str]) -> Vec<u8> {
    assemble(pages, false)
}

/// A PDF that declares Standard-handler encryption whose user password is not empty, so
/// nothing can be read without it.
pub fn encrypted_pdf() -> Vec<u8> {
    assemble(&["secret"], true)
}

fn assemble(pages: &[&str], encrypted: bool) -> Vec<u8> {
    let first_page = 4;
    let mut objects: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        {
            let kids: Vec<String> = (0..pages.len())
                .map(|i| format!("{} 0 R", first_page + 2 * i))
                .collect();
            format!(
                "<< /Type /Pages /Kids [{}] /Count {} >>",
                kids.join(" "),
                pages.len()
            )
            .into_bytes()
        },
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec(),
    ];
    for (i, page) in pages.iter().enumerate() {
        let content_id = first_page + 2 * i + 1;
        objects.push(
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] \
                 /Resources << /Font << /F1 3 0 R >> >> /Contents {content_id} 0 R >>"
            )
            .into_bytes(),
        );
        let mut content = String::new();
        for (line_no, line) in page.lines().enumerate() {
            let y = 720 - 16 * line_no;
            content.push_str(&format!(
                "BT /F1 12 Tf 72 {y} Td ({}) Tj ET\n",
                pdf_escape(line)
            ));
        }
        let mut stream = format!("<< /Length {} >>\nstream\n", content.len()).into_bytes();
        stream.extend_from_slice(content.as_bytes());
        stream.extend_from_slice(b"\nendstream");
        objects.push(stream);
    }
    let mut trailer_extra = String::new();
    if encrypted {
        let encrypt_id = objects.len() + 1;
        objects.push(
            format!(
                "<< /Filter /Standard /V 2 /R 3 /Length 128 /P -3904 /O <{}> /U <{}> >>",
                "7a".repeat(32),
                "5b".repeat(32)
            )
            .into_bytes(),
        );
        trailer_extra = format!(
            " /Encrypt {encrypt_id} 0 R /ID [<{0}> <{0}>]",
            "0123456789abcdef".repeat(2)
        );
    }

    serialize(&objects, &trailer_extra)
}

/// A scanned page: a PDF whose one page is an RGB JPEG image (`width` × `height` pixels), with
/// no text of its own.
pub fn image_pdf(jpeg: &[u8], width: u32, height: u32) -> Vec<u8> {
    let content = "q 612 0 0 792 0 0 cm /Im1 Do Q";
    let mut image = format!(
        "<< /Type /XObject /Subtype /Image /Width {width} /Height {height} \
         /ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /DCTDecode /Length {} >>\nstream\n",
        jpeg.len()
    )
    .into_bytes();
    image.extend_from_slice(jpeg);
    image.extend_from_slice(b"\nendstream");
    let objects = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] \
           /Resources << /XObject << /Im1 5 0 R >> >> /Contents 4 0 R >>"
            .to_vec(),
        format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        )
        .into_bytes(),
        image,
    ];
    serialize(&objects, "")
}

fn serialize(objects: &[Vec<u8>], trailer_extra: &str) -> Vec<u8> {
    let mut out = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(object);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref_at = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R{trailer_extra} >>\nstartxref\n{xref_at}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

fn pdf_escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('(', "\\(")
        .replace(')', "\\)")
}
