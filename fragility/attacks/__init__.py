"""Attacks on interpretations (Ghorbani, Abid & Zou, 2019), registered by name.

`attack(model, images, method, attack, ...)` runs one; `attacks()` lists the names.
"""

# Each import registers attacks; the order of these lines is the menu order.
from . import top_k, mass_center, targeted, target_map, random_sign, pgd  # noqa: F401,I001
from .api import attack
from .registry import Attack, attacks, get_attack
from .result import AttackResult

__all__ = ["Attack", "AttackResult", "attack", "attacks", "get_attack"]
