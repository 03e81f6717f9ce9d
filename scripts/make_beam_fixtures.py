"""Fixture for the constrained beam search (Tests/GenerationTests/Fixtures/beam_search.safetensors).

The tiny two-modality model of make_mscgrec_fixtures.py (split bias), with two output columns made equal so that two
root children tie exactly, a tree where some prefixes have a single child, histories of different lengths (one empty),
and exclusion sets, some covering whole prefixes (no beam may be kept on those). Expected items, scores and codes
come from mscgrec_reference.beam_search (float64, no cache).

Run: python3 scripts/make_beam_fixtures.py   (torch==2.13.0, safetensors)
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import sort_metadata  # noqa: E402
from make_mscgrec_fixtures import COLLAB, COLLAB_PRESENT, TEXT, TEXT_PRESENT, config  # noqa: E402
from mscgrec_reference import EOS, PAD, Layout, MSCGRecTorch, beam_search, prefix_children  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "Tests", "GenerationTests", "Fixtures")
HISTORIES = [[3, 2, 8], [4], [5, 1], [0, 6, 7], [9, 0, 1, 2, 6], []]
# User 3 excludes every item under level-1 code 0 (items 0, 1, 5: the model's favourites), user 4 every item under
# prefix (0, 0) (items 0, 5).
EXCLUDE = [[1, 4], [], [3], [0, 1, 5], [0, 5], []]
BEAMS, RESULTS = 4, 3


def main():
    cfg = config("split", "gated-gelu")
    model32 = MSCGRecTorch(cfg, dtype=torch.float32, seed=11)
    layout = Layout(cfg)
    with torch.no_grad():   # level-0 codes 1 and 2 get identical logits: an exact tie at the first step
        w = model32.p("output_projection")
        w[:, layout.class_offsets[0] + 2] = w[:, layout.class_offsets[0] + 1]
    weights = {n: model32.p(n).detach().clone() for n in model32.names}
    model = MSCGRecTorch(cfg, dtype=torch.float64)
    model.load({n: v.double() for n, v in weights.items()})
    present = [i for i in range(len(COLLAB)) if COLLAB_PRESENT[i]]
    children = prefix_children([COLLAB[i] for i in present])
    leaf_items = {tuple(COLLAB[i]): i for i in present}
    assert any(len(v) == 1 for v in children.values()), "the tree must have single-child prefixes"

    def tokens_for(history):
        row = []
        for item in history:
            row += layout.item_block([TEXT[item], COLLAB[item]], [TEXT_PRESENT[item], COLLAB_PRESENT[item]])
        return torch.tensor([row + [EOS]])

    out = {f"weight.{n}": v for n, v in weights.items()}
    with torch.no_grad():
        for kind, exclude in [("plain", None), ("excluded", EXCLUDE)]:
            items, scores, codes = [], [], []
            for u, history in enumerate(HISTORIES):
                found = beam_search(model, tokens_for(history), None, children, BEAMS, RESULTS,
                                    exclude=set(exclude[u]) if exclude else None, leaf_items=leaf_items)
                assert len(found) == RESULTS
                items.append([f[0] for f in found])
                scores.append([f[1] for f in found])
                codes.append([f[2] for f in found])
            if exclude:   # the fixture must tell pruning whole prefixes from dropping excluded items at the end only
                late = [[f[0] for f in beam_search(model, tokens_for(h), None, children, BEAMS, RESULTS, exclude=set(exclude[u]),
                                                   leaf_items=leaf_items, prune_excluded=False)] for u, h in enumerate(HISTORIES)]
                assert late != items, "no user's answer depends on pruning excluded prefixes"
                print("last-level exclusion only:", late)
            out[f"{kind}.items"] = torch.tensor(items, dtype=torch.int32)
            out[f"{kind}.scores"] = torch.tensor(scores, dtype=torch.float32)
            out[f"{kind}.codes"] = torch.tensor(codes, dtype=torch.int32)
            print(kind, items)
    out.update({"text_codes": torch.tensor(TEXT, dtype=torch.int32), "text_present": torch.tensor(TEXT_PRESENT, dtype=torch.int32),
                "collab_codes": torch.tensor(COLLAB, dtype=torch.int32), "collab_present": torch.tensor(COLLAB_PRESENT, dtype=torch.int32),
                "histories": torch.tensor([[-1] * (5 - len(h)) + h for h in HISTORIES], dtype=torch.int32),
                "exclude": torch.tensor([[-1] * (3 - len(e)) + e for e in EXCLUDE], dtype=torch.int32)})
    tensors = {k: (v.float() if v.is_floating_point() else v).contiguous() for k, v in out.items()}
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "beam_search.safetensors")
    save_file(tensors, path + ".tmp", metadata={"config": json.dumps(cfg, sort_keys=True), "beams": str(BEAMS), "results": str(RESULTS)})
    sort_metadata(path + ".tmp")
    os.replace(path + ".tmp", path)
    print(path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
