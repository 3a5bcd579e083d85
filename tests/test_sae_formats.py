"""SAEs out to SAELens and sparsify, and back in (core.interop, ``python -m core export / import``).

sae-lens and sparsify are too heavy to install in the test environment (transformer-lens, a model
hub client, ...), so each format is checked against its library's *published equations*, written out
below with NumPy from the files alone:

- SAELens (``sae_lens/saes``): sae_in = x - b_dec (when apply_b_dec_to_input); pre = sae_in @ W_enc + b_enc;
  'standard' f = ReLU(pre); 'topk' the k largest of pre, ReLU'd, others 0; 'jumprelu' f = ReLU(pre) *
  (pre > threshold); 'gated' f = 1[sae_in @ W_enc + b_gate > 0] * ReLU(sae_in @ (W_enc exp(r_mag)) + b_mag);
  x_hat = f @ W_dec + b_dec.
- sparsify (``sparsify/sparse_coder.py``): pre = ReLU((x - b_dec) @ encoder.weight.T + encoder.bias), the
  k largest of each row kept; x_hat = codes @ W_dec + b_dec.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy
import safetensors.torch
import torch

from core import checkpoint, cli, datasets, interop, models
from core.store import RunStore

SIZE = {"n_components": 24, "max_steps": 40, "random_state": 0, "device": "cpu", "batch_size": 64}
SAES = {"sae-topk": {"k": 4}, "sae-l1": {}, "sae-jumprelu": {"threshold_init": 0.05}, "sae-batchtopk": {"k": 4},
        "sae-matryoshka": {"k": 4, "n_groups": 2}, "sae-gated": {}, "nnsae": {}}
SAES = {name: params for name, params in SAES.items() if name in models.available()}
EXPORTABLE = [(name, fmt) for name in SAES for fmt in interop.FORMATS if interop.can_export(name, fmt) is None]


@pytest.fixture(scope="module")
def X() -> np.ndarray:
    return datasets.load("digits", n_samples=200, seed=0).X.astype(np.float32)


@pytest.fixture(scope="module")
def fitted(X) -> dict:
    return {name: models.create(name, **SIZE, **params).fit(X) for name, params in SAES.items()}


def _files(model, fmt: str) -> dict[str, bytes]:
    return interop.export_files(model, fmt, interop.make_provenance(model, "digits", {"n_samples": 200}))


def _relu(a):
    return np.maximum(a, 0)


def _keep_top_k(a, k):
    out = np.zeros_like(a)
    idx = np.argsort(-a, axis=1)[:, :k]
    np.put_along_axis(out, idx, np.take_along_axis(a, idx, axis=1), axis=1)
    return out


def saelens_encode_decode(cfg: dict, w: dict, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SAELens' encode and decode, from its published equations."""
    sae_in = (x - w["b_dec"] * cfg["apply_b_dec_to_input"]).astype(np.float64)
    if cfg["architecture"] == "gated":  # the gate picks latents, the magnitude path (shared W_enc) sizes them
        gate = sae_in @ w["W_enc"] + w["b_gate"] > 0
        f = gate * _relu(sae_in @ (w["W_enc"] * np.exp(w["r_mag"])) + w["b_mag"])
        return f, f @ w["W_dec"] + w["b_dec"]
    pre = sae_in @ w["W_enc"] + w["b_enc"]
    if cfg["architecture"] == "standard":
        f = _relu(pre)
    elif cfg["architecture"] == "topk":
        f = _relu(_keep_top_k(pre, cfg["k"]))
    elif cfg["architecture"] == "jumprelu":
        f = _relu(pre) * (pre > w["threshold"])
    else:
        raise AssertionError(cfg["architecture"])
    return f, f @ w["W_dec"] + w["b_dec"]


def sparsify_encode_decode(cfg: dict, w: dict, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """sparsify's encode (top-k of ReLU(encoder(x - b_dec))) and decode, from its published equations."""
    pre = _relu((x - w["b_dec"]).astype(np.float64) @ w["encoder.weight"].T + w["encoder.bias"])
    f = _keep_top_k(pre, cfg["k"])
    return f, f @ w["W_dec"] + w["b_dec"]


# -- the library's equations on the exported files ------------------------------------------------
@pytest.mark.parametrize("name", [n for n, fmt in EXPORTABLE if fmt == "saelens"])
def test_saelens_files_encode_and_decode_as_saelens_does(fitted, X, name):
    files = _files(fitted[name], "saelens")
    assert set(files) == {"cfg.json", "sae_weights.safetensors"}
    cfg = json.loads(files["cfg.json"])
    weights = safetensors.numpy.load(files["sae_weights.safetensors"])
    d_sae, d_in = SIZE["n_components"], X.shape[1]
    assert (cfg["d_in"], cfg["d_sae"], cfg["dtype"], cfg["normalize_activations"]) == (d_in, d_sae, "float32", "none")
    assert weights["W_enc"].shape == (d_in, d_sae) and weights["W_dec"].shape == (d_sae, d_in)
    assert weights["b_gate" if name == "sae-gated" else "b_enc"].shape == (d_sae,)
    assert weights["b_dec"].shape == (d_in,)
    assert cfg["apply_b_dec_to_input"] is (name != "nnsae")  # the non-negative SAE has no decoder bias
    if name in ("sae-jumprelu", "sae-batchtopk", "sae-matryoshka"):  # SAELens keeps BatchTopK as JumpReLU
        assert cfg["architecture"] == "jumprelu" and weights["threshold"].shape == (d_sae,)
    codes, x_hat = saelens_encode_decode(cfg, weights, X)
    ours = fitted[name].transform(X)
    assert (codes != 0).sum() > 0 and np.array_equal(codes != 0, ours != 0)
    np.testing.assert_allclose(ours, codes, atol=1e-4)
    np.testing.assert_allclose(fitted[name].inverse_transform(ours), x_hat, atol=1e-4)


def test_sparsify_files_encode_and_decode_as_sparsify_does(fitted, X):
    files = _files(fitted["sae-topk"], "sparsify")
    assert set(files) == {"cfg.json", "sae.safetensors"}
    cfg = json.loads(files["cfg.json"])
    weights = safetensors.numpy.load(files["sae.safetensors"])
    assert set(weights) == {"encoder.weight", "encoder.bias", "W_dec", "b_dec"}  # sparsify loads strictly
    assert (cfg["d_in"], cfg["num_latents"], cfg["k"], cfg["normalize_decoder"]) == (X.shape[1], 24, 4, True)
    assert weights["encoder.weight"].shape == (24, X.shape[1])
    codes, x_hat = sparsify_encode_decode(cfg, weights, X)
    ours = fitted["sae-topk"].transform(X)
    np.testing.assert_allclose(ours, codes, atol=1e-4)
    np.testing.assert_allclose(fitted["sae-topk"].inverse_transform(ours), x_hat, atol=1e-4)


# -- round trips -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,fmt", EXPORTABLE)
def test_export_then_import_gives_the_same_model(fitted, X, tmp_path, name, fmt):
    files = _files(fitted[name], fmt)
    interop.write_folder(files, tmp_path / "sae")
    for imported in (interop.read_sae(tmp_path / "sae"), interop.read_sae_bytes(interop.zip_bytes(files))):
        assert imported.model_name == name and imported.format == fmt
        codes = imported.model.transform(X)  # (a Gated SAE's exp(log(scale)) may differ in the last bit)
        np.testing.assert_allclose(codes, fitted[name].transform(X), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(imported.model.inverse_transform(codes), fitted[name].inverse_transform(codes),
                                   rtol=1e-6, atol=1e-6)


def test_a_zip_with_the_sae_in_one_folder_imports(fitted, X):
    """sparsify saves one folder per hookpoint (layers.3/cfg.json, layers.3/sae.safetensors)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in _files(fitted["sae-topk"], "sparsify").items():
            archive.writestr(f"layers.3/{name}", data)
    imported = interop.read_sae_bytes(buffer.getvalue())
    np.testing.assert_array_equal(imported.model.transform(X), fitted["sae-topk"].transform(X))


def test_a_batchtopk_sae_without_provenance_imports_as_jumprelu_with_the_same_codes(fitted, X):
    files = _files(fitted["sae-batchtopk"], "saelens")
    cfg = json.loads(files["cfg.json"])
    del cfg[interop.PROVENANCE_KEY]
    imported = interop.read_sae_bytes(interop.zip_bytes({**files, "cfg.json": json.dumps(cfg).encode()}))
    assert imported.model_name == "sae-jumprelu"
    np.testing.assert_array_equal(imported.model.transform(X), fitted["sae-batchtopk"].transform(X))


# -- SAEs from elsewhere ---------------------------------------------------------------------------------
def _foreign_jumprelu(d_in=6, d_sae=10, seed=1) -> tuple[dict, dict]:
    """A JumpReLU SAE as Gemma Scope ships them: no centring by b_dec, non-unit decoder rows, some
    thresholds below 0, weights in bfloat16."""
    rng = np.random.default_rng(seed)
    weights = {"W_enc": rng.normal(size=(d_in, d_sae)), "W_dec": rng.normal(size=(d_sae, d_in)) * 2,
               "b_enc": rng.normal(size=d_sae) * 0.1, "b_dec": rng.normal(size=d_in),
               "threshold": np.linspace(-0.3, 0.6, d_sae)}
    weights = {k: torch.tensor(v, dtype=torch.float32).to(torch.bfloat16).to(torch.float32).numpy()
               for k, v in weights.items()}
    cfg = {"architecture": "jumprelu", "d_in": d_in, "d_sae": d_sae, "dtype": "bfloat16",
           "apply_b_dec_to_input": False, "normalize_activations": "none", "meta": {"sae_lens_version": "6.5.0"}}
    return cfg, weights


def _saelens_zip(cfg: dict, weights: dict, dtype=torch.bfloat16) -> bytes:
    tensors = {k: torch.from_numpy(np.ascontiguousarray(v)).to(dtype) for k, v in weights.items()}
    return interop.zip_bytes({"cfg.json": json.dumps(cfg).encode(),
                              "sae_weights.safetensors": safetensors.torch.save(tensors)})


def test_a_foreign_saelens_jumprelu_sae_codes_as_saelens_does():
    cfg, weights = _foreign_jumprelu()
    imported = interop.read_sae_bytes(_saelens_zip(cfg, weights))
    assert imported.model_name == "sae-jumprelu"
    x = np.random.default_rng(2).normal(size=(50, 6)).astype(np.float32)
    codes, x_hat = saelens_encode_decode(cfg, weights, x)
    ours = imported.model.transform(x)
    assert np.array_equal(ours != 0, codes != 0)
    np.testing.assert_allclose(ours, codes, atol=1e-4)
    np.testing.assert_allclose(imported.model.inverse_transform(ours), x_hat, atol=1e-4)


@pytest.mark.parametrize("change,expected", [
    (lambda c, w: w.pop("b_enc"), "lacks the tensor(s) ['b_enc']"),
    (lambda c, w: w.update(W_dec=w["W_dec"][:, :5]), "tensor W_dec has shape [10, 5]"),
    (lambda c, w: w.update(extra=w["b_dec"].copy()), "holds tensor(s) ['extra']"),
    (lambda c, w: c.update(architecture="gated-ish"), "Unknown SAELens architecture 'gated-ish'"),
    (lambda c, w: c.update(normalize_activations="layer_norm"), "normalize_activations is 'layer_norm'"),
    (lambda c, w: c.update(d_sae="ten"), "'d_sae' must be a positive whole number"),
])
def test_bad_saelens_files_are_refused_with_the_problem_named(change, expected):
    cfg, weights = _foreign_jumprelu()
    change(cfg, weights)
    with pytest.raises(interop.InteropError, match=expected.replace("[", r"\[").replace("(", r"\(")
                       .replace(")", r"\)").replace("]", r"\]")):
        interop.read_sae_bytes(_saelens_zip(cfg, weights, torch.float32))


def test_bad_sparsify_files_are_refused(fitted):
    files = _files(fitted["sae-topk"], "sparsify")
    cfg = json.loads(files["cfg.json"])
    for key, message in (("transcode", "transcode is on"), ("skip_connection", "skip_connection is on")):
        bad = {**files, "cfg.json": json.dumps({**cfg, key: True}).encode()}
        with pytest.raises(interop.InteropError, match=message):
            interop.read_sae_bytes(interop.zip_bytes(bad))
    weights = safetensors.numpy.load(files["sae.safetensors"])
    weights.pop("encoder.bias")
    bad = {**files, "sae.safetensors": safetensors.numpy.save(weights)}
    with pytest.raises(interop.InteropError, match=r"lacks the tensor\(s\) \['encoder.bias'\]"):
        interop.read_sae_bytes(interop.zip_bytes(bad))


def test_pickles_and_strangers_are_never_unpickled(tmp_path, monkeypatch):
    import pickle

    def no_unpickling(*args, **kwargs):
        raise AssertionError("a user file was unpickled")

    monkeypatch.setattr(pickle, "load", no_unpickling)
    monkeypatch.setattr(pickle, "loads", no_unpickling)
    folder = tmp_path / "sae"
    folder.mkdir()
    (folder / "cfg.json").write_text(json.dumps({"architecture": "standard", "d_in": 2, "d_sae": 2}))
    buffer = io.BytesIO()
    torch.save({"W_enc": torch.zeros(2, 2)}, buffer)
    (folder / "sae_weights.safetensors").write_bytes(buffer.getvalue())  # a pickle with the right name
    with pytest.raises(interop.InteropError, match="not a valid safetensors file"):
        interop.read_sae(folder)
    (tmp_path / "model.pt").write_bytes(buffer.getvalue())
    with pytest.raises(interop.InteropError, match="holds no cfg.json"):
        interop.read_sae(tmp_path / "model.pt")  # torch.save is a ZIP: refused for what it lacks
    (tmp_path / "x.pkl").write_bytes(pickle.dumps([1]))
    with pytest.raises(interop.InteropError, match="neither a folder nor a ZIP"):
        interop.read_sae(tmp_path / "x.pkl")
    two = io.BytesIO()
    with zipfile.ZipFile(two, "w") as archive:
        for layer in ("layers.0", "layers.1"):
            archive.writestr(f"{layer}/cfg.json", "{}")
            archive.writestr(f"{layer}/sae.safetensors", b"")
    with pytest.raises(interop.InteropError, match="holds 2 .* cfg.json files"):
        interop.read_sae_bytes(two.getvalue())


# -- what a format cannot hold ------------------------------------------------------------------------
def test_models_a_format_cannot_hold_are_refused_with_the_reason(fitted, X):
    kl = models.create("sae-kl", **SIZE).fit(X)
    for fmt in interop.FORMATS:
        with pytest.raises(interop.InteropError, match="sigmoids"):
            interop.export_files(kl, fmt)
    nmf = models.create("nmf", n_components=4, max_steps=5, random_state=0).fit(X)
    with pytest.raises(interop.InteropError, match="nmf is not a sparse autoencoder"):
        interop.export_files(nmf, "saelens")
    with pytest.raises(interop.InteropError, match="sparsify holds TopK coders only.*Export it to SAELens"):
        interop.export_files(fitted["sae-l1"], "sparsify")
    assert interop.can_export("sae-topk", "sparsify") is None and "BatchTopK" in interop.can_export("sae-batchtopk",
                                                                                                   "sparsify")


def test_every_sae_in_the_registry_has_a_row_in_the_table():
    """A new SAE gets its row in core.interop.architectures.TABLE (a format that cannot hold it says why)."""
    missing = [name for name in models.sae_models() if name not in interop.TABLE]
    assert not missing, f"add rows for {missing} to core.interop.architectures.TABLE"


# -- the command line ------------------------------------------------------------------------------------
def test_cli_train_export_import_puts_the_run_in_the_store(tmp_path, capsys):
    store_root = tmp_path / "store"
    assert cli.main(["train", "--data", "digits", "--n-samples", "200", "--model", "sae-topk", "--n-components",
                     "16", "--k", "3", "--max-steps", "20", "--device", "cpu", "--quiet",
                     "--out", str(tmp_path / "run")]) == 0
    for fmt in interop.FORMATS:
        out = tmp_path / f"{fmt}-export"
        assert cli.main(["export", str(tmp_path / "run"), "--format", fmt, "--out", str(out)]) == 0
        line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert line["format"] == fmt and line["model"] == "sae-topk" and Path(line["out"]) == out
        assert cli.main(["import", str(out), "--store", str(store_root), "--name", f"from {fmt}"]) == 0
        imported = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        record = RunStore(store_root).get(imported["run_id"])
        assert (record.name, record.model, record.dataset, record.n_components) == (f"from {fmt}", "sae-topk",
                                                                                    "digits", 16)
        assert record.metrics["l0"] == pytest.approx(3.0)  # the recorded data loaded: the run has its metrics
    original = checkpoint.load(tmp_path / "run")  # the store's runs code the data as the trained folder does
    X = datasets.load("digits", n_samples=200, seed=0).X
    for record in RunStore(store_root).list_runs():
        np.testing.assert_array_equal(RunStore(store_root).load_model(record.id).transform(X), original.transform(X))
    # a run id exports too, and a refusal is one line with status 2
    run_id = RunStore(store_root).list_runs()[0].id
    assert cli.main(["export", run_id, "--store", str(store_root), "--format", "saelens", "--out",
                     str(tmp_path / "by-id")]) == 0
    assert (tmp_path / "by-id" / "sae_weights.safetensors").is_file()
    capsys.readouterr()
    assert cli.main(["import", str(tmp_path / "run"), "--store", str(tmp_path / "other")]) == 2
    assert "holds no cfg.json" in capsys.readouterr().err
    assert not (tmp_path / "other").exists()  # refused before a run store was made


# -- the pages ---------------------------------------------------------------------------------------------
def test_an_imported_sae_is_inspected_and_offers_the_formats_that_hold_it(fitted, X, tmp_path, monkeypatch):
    from app_support import elements, open_page

    store = RunStore(tmp_path / "runs")
    monkeypatch.setenv("SAE_EXPLORER_RUNS", str(store.root))
    interop.write_folder(_files(fitted["sae-l1"], "saelens"), tmp_path / "sae")
    record = interop.import_to_store(tmp_path / "sae", store)  # the data the file records: digits, 200 samples
    assert (record.dataset, record.data_options, record.model) == ("digits", {"n_samples": 200}, "sae-l1")
    at = open_page("views/inspect.py")
    assert not at.exception and not at.error
    buttons = {b.proto.label: b.proto for b in elements(at, "download_button")}
    assert not buttons["SAE for SAELens (ZIP)"].disabled and buttons["SAE for sparsify (ZIP)"].disabled
    assert any("sparsify holds TopK coders only" in c.value for c in at.caption)


def test_train_offers_the_formats_once_the_run_has_ended(tmp_path, monkeypatch):
    from app_support import app_state, elements, open_page, stop_job

    monkeypatch.setenv("SAE_EXPLORER_RUNS", str(tmp_path / "runs"))
    at = open_page("views/train.py")
    try:
        at.selectbox(key="train:model").set_value("sae-topk").run()
        at.select_slider(key="param:sae-topk:max_steps").set_value(100).run()
        at.button[0].click().run()
        assert app_state(at).job.wait(120)
        at.run()
        assert not at.exception and not at.error
        buttons = {b.proto.label: b.proto for b in elements(at, "download_button")}
        assert not buttons["SAE for SAELens (ZIP)"].disabled and not buttons["SAE for sparsify (ZIP)"].disabled
    finally:
        stop_job(at)
