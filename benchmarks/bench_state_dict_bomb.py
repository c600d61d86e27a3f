"""Memory and time to refuse hostile state dicts: reading the zip's directory first, against
what torch.load(weights_only=True) alone (the reader before that check) takes for the file.

Two uploads for the bundled architecture: its state dict plus one tensor of --floats zeros,
the zip entries re-compressed with ZIP_DEFLATED (a few MB that inflate to 4 bytes a float);
and its state dict plus --tiny one-element tensors (a zip of that many entries). Each reader
runs in a fresh process; the script prints its peak memory (VmHWM) above what it held
before the read, and the time the read took.

    python benchmarks/bench_state_dict_bomb.py [--floats 500000000] [--tiny 100000]
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import torch

READ = r'''
import sys, time, resource
from pathlib import Path
import torch
import fragility as fg

def peak_mb():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

data = Path(sys.argv[2]).read_bytes()
before, start = peak_mb(), time.perf_counter()
try:
    if sys.argv[1] == "torch.load":
        import io
        torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        outcome = "read (the architecture check comes after)"
    else:
        fg.load_model("bundled", device="cpu", weights=fg.ModelFile("bomb.pt", data))
        outcome = "accepted"
except fg.FragilityError as error:
    outcome = "refused: " + str(error)[:90] + "..."
print(f"{peak_mb() - before:.0f}\t{time.perf_counter() - start:.2f}\t{outcome}")
'''


def bomb(floats: int) -> bytes:
    from fragility.models.bundled import build_net

    state = {**build_net(10).state_dict(), "bomb": torch.zeros(floats)}
    saved = io.BytesIO()
    torch.save(state, saved)
    del state
    source = zipfile.ZipFile(io.BytesIO(saved.getvalue()))
    deflated = io.BytesIO()
    with zipfile.ZipFile(deflated, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            archive.writestr(info.filename, source.read(info.filename))
    return deflated.getvalue()


def many(count: int) -> bytes:
    from fragility.models.bundled import build_net

    state = {**build_net(10).state_dict(), **{f"t{i}": torch.zeros(1) for i in range(count)}}
    saved = io.BytesIO()
    torch.save(state, saved)
    return saved.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--floats", type=int, default=500_000_000,
                        help="zeros in the extra tensor (default 500,000,000: 2 GB inflated)")
    parser.add_argument("--tiny", type=int, default=100_000,
                        help="one-element tensors in the second upload (default 100,000)")
    args = parser.parse_args()
    uploads = ((f"deflated: {args.floats * 4 / 1e6:,.0f} MB of zeros", bomb(args.floats)),
               (f"{args.tiny:,} tiny tensors", many(args.tiny)))
    for title, data in uploads:
        with tempfile.NamedTemporaryFile(suffix=".pt") as file:
            Path(file.name).write_bytes(data)
            print(f"\nupload: {title}, {len(data) / 1e6:.1f} MB on disk")
            print("reader\tpeak above start (MB)\tseconds\toutcome")
            for reader in ("torch.load", "fg.load_model"):
                answer = subprocess.run([sys.executable, "-c", READ, reader, file.name],
                                        capture_output=True, text=True, check=True)
                print(f"{reader}\t" + answer.stdout.strip())


if __name__ == "__main__":
    main()
