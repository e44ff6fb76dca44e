"""Excel workbooks (.xlsx) as import files, and a clear word for the binary
files that are not: an old .xls, a PDF, a picture, a ZIP archive.

A workbook is read with openpyxl in read-only mode (rows stream; a large
sheet is never held in memory), from the first sheet or the one named. Cells
keep their types: a date cell arrives as a date, a number as a number, so
neither goes through a guessed text format.
"""

import datetime as dt
import os
import zipfile

from .errors import CRMError

# What the first bytes of a file say it is: (magic, description, how to get a CSV).
_SAVE_AS_CSV = "open it and save it as CSV UTF-8 (in Excel: File > Save As > 'CSV UTF-8 (Comma delimited)')"
_MAGIC = (
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Excel 97-2003 workbook (.xls) or another old Office file",
     "open it in Excel or LibreOffice and save it as an Excel workbook (.xlsx) or as CSV UTF-8"),
    (b"%PDF", "a PDF document", "export the table from the program that made it as CSV, or copy it into a spreadsheet and " + _SAVE_AS_CSV),
    (b"\x89PNG", "a PNG image", "an image holds no rows to import; export the data itself as CSV"),
    (b"\xff\xd8\xff", "a JPEG image", "an image holds no rows to import; export the data itself as CSV"),
    (b"GIF8", "a GIF image", "an image holds no rows to import; export the data itself as CSV"),
    (b"\x1f\x8b", "a gzip-compressed file", "unpack it first (gunzip) and import the CSV inside"),
    (b"\xff\xfe", "UTF-16 text (Excel's 'Unicode Text')", _SAVE_AS_CSV),
    (b"\xfe\xff", "UTF-16 text", _SAVE_AS_CSV),
)


def sniff(path):
    """``"xlsx"`` for an Excel workbook, ``None`` for a text file; raises a
    one-line ``CRMError`` saying what a binary file is and how to save it as CSV."""
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _zip_kind(path)
    for magic, what, how in _MAGIC:
        if head.startswith(magic):
            raise CRMError(f"{path}: this is {what}, not a CSV, JSON or Excel (.xlsx) file; {how}")
    return None


def _zip_kind(path):
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            mimetype = z.read("mimetype").decode("ascii", "replace").strip() if "mimetype" in names else ""
    except (zipfile.BadZipFile, OSError):
        raise CRMError(f"{path}: this is a damaged ZIP archive, not a CSV file; {_SAVE_AS_CSV}") from None
    if "xl/workbook.xml" in names:
        return "xlsx"
    if "word/document.xml" in names:
        what = "a Word document (.docx)"
    elif any(n.startswith("ppt/") for n in names):
        what = "a PowerPoint presentation (.pptx)"
    elif mimetype == "application/vnd.oasis.opendocument.spreadsheet":
        what = "an OpenDocument spreadsheet (.ods)"
    elif mimetype.startswith("application/vnd.oasis.opendocument"):
        what = "an OpenDocument file"
    elif any(n.startswith("Index/") for n in names):
        what = "an Apple Numbers document"
    else:
        return_what = ", ".join(sorted(names)[:3])
        raise CRMError(f"{path}: this is a ZIP archive (holding {return_what}), not a CSV or Excel file; unpack it and import the CSV inside")
    raise CRMError(f"{path}: this is {what}, not a CSV or Excel (.xlsx) file; {_SAVE_AS_CSV}")


def _cell(value):
    """A cell's value as the importer's converters take it."""
    if value is None:
        return ""
    if type(value) is float and value.is_integer() and abs(value) < 2**53:
        return int(value)  # 12345.0 in a postal-code column is 12345
    if isinstance(value, dt.datetime):
        if value.tzinfo is None and value.time() == dt.time(0):
            return value.date()
        return value
    if isinstance(value, dt.time):
        return value.isoformat()
    if type(value) is str:
        return value
    return value


def read_xlsx(path, sheet=None, progress=None, header_key=None):
    """Yield ``(row_number, {header: value})`` from the first sheet (or ``sheet``).

    Row numbers are those Excel shows (the header is row 1); blank rows are
    skipped as in a CSV."""
    try:
        import openpyxl
    except ImportError:  # pragma: no cover - a dependency; only a broken install lacks it
        raise CRMError(f"{path}: reading Excel files needs openpyxl (pip install openpyxl)") from None
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise CRMError(f"{path}: not a readable Excel workbook ({type(exc).__name__}: {str(exc)[:80]}); {_SAVE_AS_CSV}") from None
    try:
        if sheet is None:
            ws = book.worksheets[0]
        elif sheet in book.sheetnames:
            ws = book[sheet]
        else:
            raise CRMError(f"{path}: no sheet named {sheet!r} (sheets: {', '.join(book.sheetnames)})")
        if not hasattr(ws, "iter_rows"):
            raise CRMError(f"{path}: sheet {ws.title!r} is a chart, not a table")
        rows = ws.iter_rows(values_only=True)
        first = next(rows, None)
        while first is not None and not any(v not in (None, "") for v in first):
            first = None  # the header must be row 1, as in a CSV
        if first is None:
            raise CRMError(f"{path}: sheet {ws.title!r} is empty (a header row is needed)")
        header = [("" if v is None else str(v)).strip() for v in first]
        while header and not header[-1]:
            header.pop()
        seen = set()
        for h in header:
            if not h:
                raise CRMError(f"{path}: row 1: a column has no header")
            key = header_key(h) if header_key else h
            if key in seen:
                raise CRMError(f"{path}: row 1: duplicate column {h!r}")
            seen.add(key)
        width = len(header)
        for number, values in enumerate(rows, start=2):
            cells = [_cell(v) for v in values]
            if not any(c != "" for c in cells):
                continue
            if any(c != "" for c in cells[width:]):
                raise CRMError(f"{path}: row {number}: a value in a column without a header")
            yield number, dict(zip(header, cells))
    finally:
        book.close()
        if progress:
            progress(os.path.getsize(path))
