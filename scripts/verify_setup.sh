#!/bin/sh
# Optional dependencies of `gemma4c verify` and its test (docs/verify.md); the core build and
# tests never need them. Idempotent. Makes:
#   /opt/venv                       Python venv with torch (CPU), transformers (Gemma 4), gguf,
#                                   numpy, safetensors, sentencepiece from PyPI;
#   /opt/g4verify/vendor/llama.cpp  llama.cpp's convert_hf_to_gguf.py, conversion/ and gguf-py,
#                                   taken from the llama-cpp-python sdist on PyPI (nothing of
#                                   llama.cpp is committed here).
# Environment: VENV (default /opt/venv), G4_CONVERTER_ROOT (default /opt/g4verify).
set -eu
VENV=${VENV:-/opt/venv}
ROOT=${G4_CONVERTER_ROOT:-/opt/g4verify}

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import torch, gguf, safetensors, sentencepiece, transformers.models.gemma4' 2>/dev/null; then
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q torch --index-url https://download.pytorch.org/whl/cpu || "$VENV/bin/pip" install -q torch
  "$VENV/bin/pip" install -q transformers gguf numpy safetensors sentencepiece
fi
"$VENV/bin/python" -c 'import transformers.models.gemma4' || {
  echo "verify_setup: the installed transformers has no Gemma 4 (need >= 5.5)" >&2; exit 1; }

if [ ! -f "$ROOT/vendor/llama.cpp/convert_hf_to_gguf.py" ]; then
  tmp=$(mktemp -d)
  "$VENV/bin/pip" download -q --no-deps --no-binary :all: llama-cpp-python -d "$tmp"
  sdist=$(ls "$tmp"/llama_cpp_python-*.tar.gz | head -n 1)
  top=$(basename "$sdist" .tar.gz)
  mkdir -p "$ROOT"
  tar -xzf "$sdist" -C "$tmp" "$top/vendor/llama.cpp/convert_hf_to_gguf.py" \
      "$top/vendor/llama.cpp/conversion" "$top/vendor/llama.cpp/gguf-py"
  rm -rf "$ROOT/vendor"
  mv "$tmp/$top/vendor" "$ROOT/vendor"
  rm -rf "$tmp"
fi
grep -q 'Gemma4ForCausalLM' "$ROOT/vendor/llama.cpp/conversion/gemma.py" 2>/dev/null || {
  echo "verify_setup: $ROOT/vendor/llama.cpp has no Gemma 4 converter (an old llama-cpp-python sdist?)" >&2; exit 1; }
echo "verify_setup: $VENV ($("$VENV/bin/python" -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)')), converter in $ROOT/vendor/llama.cpp"
