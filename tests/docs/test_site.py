"""The docs site builds offline in strict mode (any warning fails), API pages included."""

import re
import subprocess
import sys

from doc_blocks import ROOT


def test_the_site_builds_in_strict_mode(tmp_path):
    site = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
                           str(ROOT / "mkdocs.yml"), "--site-dir", str(site)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    api = (site / "api" / "index.html").read_text()
    assert "fragility.attack" in api and "fragility.cascading_randomization" in api
    for page in site.rglob("*.html"):   # nothing fetched from the network: no CDN scripts or styles
        html = page.read_text()
        assert not re.search(r'src="(https?:)?//', html), page
        assert not re.search(r'<link[^>]*href="(https?:)?//', html), page
    assert (site / "screenshots" / "attack-light.png").is_file()
