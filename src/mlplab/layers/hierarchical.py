"""Hierarchical softmax: an output layer giving log P(c | h) for every class from a binary tree."""

from __future__ import annotations

import heapq
from typing import Any

import numpy as np

from .._typing import Array
from ..activations import sigmoid, softplus
from ..errors import check_choice, check_positive_int
from ..initializers import get_initializer, serialize_initializer
from .base import Layer, register_layer


def class_tree(n_classes: int, class_counts: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Paths from the root to each class leaf of a binary tree with ``n_classes - 1`` inner nodes.

    Balanced when ``class_counts`` is None, else the Huffman tree of the counts (frequent classes
    get short paths). Returns ``(on_path, go_right)``, boolean ``(n_classes, n_classes - 1)``:
    ``on_path[c, j]`` if inner node j is on class c's path, ``go_right[c, j]`` if the path
    turns right there. Inner node 0 is the root.
    """
    if class_counts is None:

        def split(classes):
            if len(classes) == 1:
                return classes[0]
            half = (len(classes) + 1) // 2
            return (split(classes[:half]), split(classes[half:]))

        root = split(list(range(n_classes)))
    else:
        # ties broken by insertion order, so the tree is deterministic
        heap: list[tuple[float, int, Any]] = [(float(c), i, i) for i, c in enumerate(class_counts)]
        heapq.heapify(heap)
        order = n_classes
        while len(heap) > 1:
            c1, _, a = heapq.heappop(heap)
            c2, _, b = heapq.heappop(heap)
            heapq.heappush(heap, (c1 + c2, order, (a, b)))
            order += 1
        root = heap[0][2]
    on_path = np.zeros((n_classes, n_classes - 1), dtype=bool)
    go_right = np.zeros((n_classes, n_classes - 1), dtype=bool)
    queue: list[tuple[Any, list]] = [(root, [])]
    next_id = 0
    while queue:  # breadth first, so inner nodes are numbered from the root down
        node, path = queue.pop(0)
        if isinstance(node, tuple):
            j, next_id = next_id, next_id + 1
            queue += [(node[0], path + [(j, 0)]), (node[1], path + [(j, 1)])]
        else:
            for j, bit in path:
                on_path[node, j], go_right[node, j] = True, bool(bit)
    return on_path, go_right


@register_layer("hierarchical_softmax")
class HierarchicalSoftmax(Layer):
    """Output layer: classes are leaves of a binary tree with a logistic decision at each inner
    node; the output is the log-probability of every class, ``(batch, n_classes)``.

    With inputs h ``(batch, d)`` and node logits ``z = h W + b`` (W of shape ``(d, C - 1)``),
    ``log P(c | h) = sum_{j on path(c)} log sigma(+-z_j)`` (+ where the path turns right), i.e.
    ``-(softplus(-z) @ R^T + softplus(z) @ L^T)`` with R, L the (C, C - 1) right/left-turn
    masks. Train it with the parameter-free loss ``"nll"`` (negative log-likelihood), which
    gives ``L = -1/N sum_n log P(y_n | h_n)``; ``exp`` of the output is the class probabilities.
    Backward: ``dz_j = sum_c dout_c [j on path(c)] ([right turn] - sigma(z_j))``.

    Every node's logit is computed with one GEMM (fast at the class counts of an MLP); the
    O(log C) saving of the original comes from evaluating path nodes only.

    Parameters
    ----------
    n_classes : int (>= 2)
    tree : "balanced" or "huffman" (the latter needs ``class_counts``)
    class_counts : sequence of n_classes positive numbers, for the Huffman tree
    kernel_initializer : initializer of W (b starts at 0)

    References: Morin & Bengio, "Hierarchical Probabilistic Neural Network Language Model"
    (2005); Mikolov et al., "Distributed Representations of Words and Phrases" (2013).
    """

    def __init__(
        self,
        n_classes: int,
        tree: str = "balanced",
        class_counts: Any = None,
        kernel_initializer: Any = "glorot_uniform",
    ):
        super().__init__()
        self.n_classes = check_positive_int(self.name, "n_classes", n_classes, minimum=2)
        self.tree = check_choice(self.name, "tree", tree, ("balanced", "huffman"))
        if tree == "huffman":
            if class_counts is None:
                raise ValueError(f"{self.name}: tree='huffman' needs class_counts")
            counts = np.asarray(class_counts, dtype=float)
            if (
                counts.shape != (self.n_classes,)
                or not np.all(np.isfinite(counts))
                or np.any(counts <= 0)
            ):
                raise ValueError(
                    f"{self.name}: class_counts must be {self.n_classes} positive "
                    f"numbers, got {class_counts!r}"
                )
            class_counts = counts.tolist()
        elif class_counts is not None:
            raise ValueError(f"{self.name}: class_counts is only used with tree='huffman'")
        self.class_counts = class_counts
        self.kernel_initializer = serialize_initializer(kernel_initializer)
        self.on_path, self.go_right = class_tree(self.n_classes, class_counts)
        self._x: Array | None = None
        self._z: Array | None = None

    def _build(self, in_features: int, rng: np.random.Generator) -> int:
        xp, dt = self.xp, self.dtype
        W = get_initializer(self.kernel_initializer)(
            (in_features, self.n_classes - 1), rng=rng, dtype=dt, xp=xp
        )
        self.params = {"W": W, "b": xp.zeros((self.n_classes - 1,), dtype=dt)}
        self.grads = {}
        # the turn masks: R[c, j] = 1 where class c's path turns right at node j, L left
        on, right = self.on_path, self.go_right
        self._right = xp.asarray((on & right).astype(np.float64), dtype=dt)
        self._left = xp.asarray((on & ~right).astype(np.float64), dtype=dt)
        self._on = xp.asarray(on.astype(np.float64), dtype=dt)
        return self.n_classes

    def forward(self, x: Array, *, training: bool = False) -> Array:
        self._check_input(x)
        self._x = x
        self._z = z = x @ self.params["W"] + self.params["b"]
        # log sigma(z) = -softplus(-z), log sigma(-z) = -softplus(z)
        return -(softplus(-z) @ self._right.T + softplus(z) @ self._left.T)

    def backward(self, dout: Array) -> Array:
        x, z = self._cached(self._x), self._z
        xp = self.xp
        # d log P(c)/dz_j = on[c, j] (right[c, j] - sigma(z_j)), summed against dout over c
        dz = dout @ self._right - sigmoid(z) * (dout @ self._on)
        self.grads["W"] = x.T @ dz
        self.grads["b"] = xp.sum(dz, axis=0)
        return dz @ self.params["W"].T

    def get_config(self) -> dict[str, Any]:
        return {
            "n_classes": self.n_classes,
            "tree": self.tree,
            "class_counts": self.class_counts,
            "kernel_initializer": self.kernel_initializer,
        }
