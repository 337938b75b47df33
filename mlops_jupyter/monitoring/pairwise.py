"""Gradient-boosted trees whose paths each split on at most two inputs, summed into tables.

A scikit-learn ``HistGradientBoostingRegressor`` fitted with ``interaction_cst="pairwise"`` is a
sum of functions of one or two inputs. Each input's split points cut it into intervals; every
tree's leaves add their value to a table per pair of inputs over those intervals, so a row's
prediction is a few table lookups instead of a walk down every tree. The same figures as the
model's own ``predict`` (to rounding), ten times sooner on a million rows.

    >>> tables = PairTables.of([model_a, model_b])  # fitted on the same columns
    >>> tables.predict(tables.columns(X))            # (rows, 2): model_a's and model_b's
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

CHUNK = 1 << 16  # rows coded and looked up at a time
ENTRIES = 1 << 24  # at most this many figures in all tables (128 MB): wider models are walked


class PairTables:
    """The tables of one or more fitted models, read together (their inputs coded once)."""

    def __init__(self, first: Any, cuts: dict[int, np.ndarray], categorical: set[int]):
        self._first = first  # whose preprocessing (column order, category codes) rows go through
        self.cuts = cuts  # numeric input -> its split points, sorted; categorical -> all codes
        self.known: dict[int, np.ndarray] = {}  # categorical input -> which codes it has seen
        for f in categorical:
            self.known[f] = np.zeros(self._size(f), bool)
            self.known[f][first._bin_mapper.bin_thresholds_[f].astype(np.intp)] = True
        self.constant: np.ndarray = np.zeros(0)
        self.tables: dict[tuple[int, ...], np.ndarray] = {}
        self._entries = 0

    @classmethod
    def of(cls, models: list[Any]) -> PairTables:
        """Tables for ``models`` (regressors fitted on the same inputs); ValueError when a path
        of a tree splits on more than two inputs or the tables would hold over ``ENTRIES``."""
        first = models[0]
        categorical = set(np.flatnonzero(first._bin_mapper.is_categorical_).tolist())
        found: dict[int, set[float]] = {}
        for model in models:
            for (tree,) in model._predictors:
                for node in _nodes(tree):
                    if not node["is_leaf"] and node["feature_idx"] not in categorical:
                        found.setdefault(node["feature_idx"], set()).add(node["num_threshold"])
        cuts = {f: np.array(sorted(values)) for f, values in found.items()}
        cuts.update({f: np.arange(255.0) for f in categorical})  # a category's code is its own
        tables = cls(first, cuts, categorical)
        parts = [tables._add(model) for model in models]
        tables.constant = np.array([constant for constant, _ in parts])
        keys = sorted({key for _, found_tables in parts for key in found_tables})
        for key in keys:
            shape = tuple(tables._size(f) for f in key)
            tables.tables[key] = np.stack(
                [found_tables.get(key, np.zeros(shape)) for _, found_tables in parts], axis=-1
            )
        tables._fold_singles()
        return tables

    def columns(self, X: Any) -> list[np.ndarray]:
        """What the models take (a DataFrame with categories, say) as :meth:`predict` takes it:
        one array per input, in the models' order."""
        values = self._first._preprocess_X(X, reset=False)
        return [values[:, f] for f in range(values.shape[1])]

    def predict(self, columns: list[np.ndarray]) -> np.ndarray:
        """Each model's prediction of each row, from its inputs' ``columns`` (numbers, a
        category's code, NaN for missing): an array (rows, models)."""
        used = sorted({f for key in self.tables for f in key})
        rows = len(columns[0])
        out = np.empty((rows, len(self.constant)))

        def part(start: int) -> None:  # a part's codes stay in the cache; numpy frees the GIL
            end = min(start + CHUNK, rows)
            into = out[start:end]
            into[:] = self.constant
            codes = {f: self._codes(columns[f][start:end], f) for f in used}
            for key, table in self.tables.items():
                if len(key) == 1:
                    into += np.take(table, codes[key[0]], axis=0)
                    continue
                a, b = key
                index = codes[a] * np.uint32(table.shape[1]) + codes[b]
                into += np.take(table.reshape(-1, table.shape[-1]), index, axis=0)

        with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
            list(pool.map(part, range(0, rows, CHUNK)))
        return out

    def _size(self, feature: int) -> int:
        """Codes of an input: one per interval between its cuts, and one for missing values."""
        return len(self.cuts[feature]) + 2

    def _codes(self, column: np.ndarray, feature: int) -> np.ndarray:
        missing = self._size(feature) - 1
        if feature in self.known:  # unknown categories go where missing ones do
            codes = np.where((column >= 0) & (column < 256), column, missing).astype(np.intp)
            return np.where(self.known[feature][codes], codes, missing).astype(np.uint32)
        codes = np.searchsorted(self.cuts[feature], column).astype(np.uint32)
        nan = np.isnan(column)
        if nan.any():
            codes[nan] = missing
        return codes

    def _add(self, model: Any) -> tuple[float, dict[tuple[int, ...], np.ndarray]]:
        """``model``'s constant and tables: each leaf's value added over the box of codes its
        path allows (a numeric input: an interval of codes, with missing values or not)."""
        constant = float(np.ravel(model._baseline_prediction)[0])
        edges: dict[tuple[int, ...], np.ndarray] = {}  # difference arrays: a box is its corners
        position = {f: {c: k for k, c in enumerate(cuts.tolist())} for f, cuts in self.cuts.items()}
        for (tree,) in model._predictors:
            nodes = _nodes(tree)
            stack: list[tuple[int, dict[int, Any]]] = [(0, {})]
            while stack:
                at, allowed = stack.pop()
                node = nodes[at]
                if node["is_leaf"]:
                    if not allowed:
                        constant += node["value"]
                    elif len(allowed) > 2:
                        raise ValueError("a path of a tree splits on more than two inputs")
                    else:
                        self._box(edges, allowed, node["value"])
                    continue
                feature, go_left = node["feature_idx"], bool(node["missing_go_to_left"])
                size = self._size(feature)
                if feature in self.known:
                    mask = allowed.get(feature, np.ones(size, bool))
                    left = self._categories_left(tree, node["bitset_idx"], size, go_left)
                    to_left, to_right = mask & left, mask & ~left
                else:  # x <= the k-th cut: codes up to k
                    low, high, missing = allowed.get(feature, (0, size - 1, True))
                    k = position[feature][node["num_threshold"]]
                    to_left = (low, min(high, k + 1), missing and go_left)
                    to_right = (max(low, k + 1), high, missing and not go_left)
                stack.append((node["left"], {**allowed, feature: to_left}))
                stack.append((node["right"], {**allowed, feature: to_right}))
        tables = {}
        for key, edge in edges.items():
            for axis in range(len(key)):
                edge = np.cumsum(edge, axis=axis)
            tables[key] = edge[tuple(slice(0, self._size(f)) for f in key)]
        return constant, tables

    @staticmethod
    def _categories_left(tree: Any, bitset: int, size: int, go_left: bool) -> np.ndarray:
        """Which codes of a categorical input the split sends left (missing: as it says)."""
        codes = np.arange(size - 1)
        words = tree.raw_left_cat_bitsets[bitset]
        left = (words[codes // 32] >> (codes % 32).astype(np.uint32)) & 1 == 1
        return np.append(left, go_left)

    def _runs(self, feature: int, allowed: Any) -> list[tuple[int, int]]:
        """[start, stop) of each run of codes ``allowed`` (missing values: the last code)."""
        if feature in self.known:
            ends = np.flatnonzero(np.diff(np.r_[0, allowed.view(np.int8), 0]))
            return [(int(a), int(b)) for a, b in ends.reshape(-1, 2)]
        low, high, missing = allowed
        last = self._size(feature) - 1
        if missing and high == last:
            return [(low, last + 1)]
        return [(low, high)] * (low < high) + [(last, last + 1)] * missing

    def _box(self, edges: dict, allowed: dict[int, Any], value: float) -> None:
        key = tuple(sorted(allowed))
        edge = edges.get(key)
        if edge is None:
            shape = tuple(self._size(f) + 1 for f in key)
            self._entries += int(np.prod(shape))
            if self._entries > ENTRIES:
                raise ValueError(f"the tables would hold over {ENTRIES:,} figures")
            edge = edges[key] = np.zeros(shape)
        runs = [self._runs(f, allowed[f]) for f in key]
        if len(key) == 1:
            for a, b in runs[0]:
                edge[a] += value
                edge[b] -= value
            return
        for a0, a1 in runs[0]:
            for b0, b1 in runs[1]:
                edge[a0, b0] += value
                edge[a1, b0] -= value
                edge[a0, b1] -= value
                edge[a1, b1] += value

    def _fold_singles(self) -> None:
        """An input's own table added into a pair's that holds it: one lookup fewer a row."""
        for key in [k for k in self.tables if len(k) == 1]:
            (feature,) = key
            pair = next((k for k in self.tables if len(k) == 2 and feature in k), None)
            if pair is None:
                continue
            single = self.tables.pop(key)
            if pair[0] == feature:
                self.tables[pair] += single[:, None, :]
            else:
                self.tables[pair] += single[None, :, :]


def _nodes(tree: Any) -> list[dict[str, Any]]:
    """A tree's nodes as dicts of Python values (quicker to walk than numpy records)."""
    names = tree.nodes.dtype.names
    return [dict(zip(names, row, strict=True)) for row in tree.nodes.tolist()]
