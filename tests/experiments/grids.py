"""A sweep grid small enough for a test: one attack and its random-sign baseline, 3 steps."""

GRID = dict(methods=["gradient"], attacks=["top-k", "random-sign"], epsilons=[8 / 255], steps=3,
            step_size=2 / 255, k=40)
KEY = ["image_id", "method", "attack", "criterion", "defence", "epsilon", "seed"]
