import PDFDocument from 'pdfkit';
import { A4_POINTS } from './layout.js';

/*
 * The sign as a one-page A4 PDF: the PNG picture placed over the whole page. One renderer for
 * both formats (the PDF shows exactly what the PNG shows, and the tests that read the PNG cover
 * it); Unifont draws the same square dots either way, so vector text would look no better.
 */

export interface PdfMeta {
  title: string;
  /** The document's creation date (injected: the same sign gives the same file). */
  createdAt: Date;
}

export function renderSignPdf(png: Buffer, { title, createdAt }: PdfMeta): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const doc = new PDFDocument({
      size: [A4_POINTS.width, A4_POINTS.height],
      margin: 0,
      autoFirstPage: true,
      info: { Title: title, Creator: 'hcp gateway qr-sign', Producer: 'hcp (pdfkit)', CreationDate: createdAt, ModDate: createdAt },
    });
    const chunks: Buffer[] = [];
    doc.on('data', (chunk: Buffer) => chunks.push(chunk));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
    doc.image(png, 0, 0, { width: A4_POINTS.width, height: A4_POINTS.height });
    doc.end();
  });
}
