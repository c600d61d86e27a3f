"""The fenced ```python and ```bash blocks of the README and of docs/*.md, as examples to run.

A block is skipped only when the line right before it (blank lines aside) is an HTML comment
`<!-- skip: REASON -->`; the reason is what pytest reports.
"""

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LANGUAGES = ("python", "bash")
SKIP = re.compile(r"^<!--\s*skip:\s*(?P<reason>.*?)\s*-->$")
FENCE = re.compile(r"^```(?P<language>\S*)\s*$")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int              # 1-based line of the opening fence
    language: str
    code: str
    skip: str | None       # the reason, when the block is marked to be skipped

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def blocks(path: Path, text: str | None = None) -> list[Block]:
    """The python and bash blocks of one Markdown file, in order."""
    lines = (path.read_text() if text is None else text).split("\n")
    found, index = [], 0
    while index < len(lines):
        fence = FENCE.match(lines[index])
        if not fence:
            index += 1
            continue
        start, language = index, fence["language"]
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("```")), None)
        if end is None:
            raise ValueError(f"{path}:{start + 1}: a code block that is never closed")
        if language in LANGUAGES:
            found.append(Block(path, start + 1, language, "\n".join(lines[start + 1:end]),
                               _skip_reason(lines, start)))
        index = end + 1
    return found


def _skip_reason(lines: list[str], fence: int) -> str | None:
    before = fence - 1
    while before >= 0 and not lines[before].strip():
        before -= 1
    match = SKIP.match(lines[before].strip()) if before >= 0 else None
    return match["reason"] if match else None
