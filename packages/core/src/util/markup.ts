/** Text safe inside an XML/HTML element or a double-quoted attribute (SVG montages, HTML reports). */
export function escapeMarkup(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
