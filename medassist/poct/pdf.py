"""The QC log as a PDF (WeasyPrint), self-contained: it may read data: URLs, never the
network or the file system, so a printed record cannot leak or hang on a fetch."""

from weasyprint import HTML, URLFetcher


def render(html: str) -> bytes:
    fetcher = URLFetcher(allowed_protocols={"data"})
    return HTML(string=html, url_fetcher=fetcher).write_pdf()  # type: ignore[no-any-return]
