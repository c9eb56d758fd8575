#!/usr/bin/env bash
# Regenerates the seed corpus of the fuzz targets (tests/fuzz/corpus) with the project's own
# writers: fuzz-make-seeds for the GGUFs, `gemma4c spec --from-gguf` + `gemma4c compile` for the
# plans. Usage: tests/fuzz/make_corpus.sh [BUILD_DIR] (default build/). The text seeds
# (corpus/tokenizer, corpus/chat) and the spec seeds (copies of specs/tiny-*.mlir) are written here too.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${1:-build}/bin
C=tests/fuzz/corpus
mkdir -p $C/gguf $C/plan $C/spec $C/tokenizer $C/chat
"$BIN/fuzz-make-seeds" $C
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$BIN/gemma4c" spec --from-gguf $C/gguf/nano.gguf -o "$tmp/nano.mlir"
"$BIN/gemma4c" compile "$tmp/nano.mlir" --max-batch=4 -o "$tmp/nano" > /dev/null
cp "$tmp/nano/plan" $C/plan/nano.plan
"$BIN/gemma4c" compile "$tmp/nano.mlir" --precision=f32 --max-batch=4 -o "$tmp/nano-f32" > /dev/null
cp "$tmp/nano-f32/plan" $C/plan/nano-f32.plan
cp "$tmp/nano.mlir" $C/spec/nano.mlir
for s in specs/tiny-*.mlir; do cp "$s" $C/spec/; done
# Plans cut in half and with one byte flipped in the middle: refused, never read past.
head -c $(( $(stat -c %s $C/plan/nano.plan) / 2 )) $C/plan/nano.plan > $C/plan/cut_half.plan
printf 'hello world' > $C/tokenizer/plain
printf '\x02<|turn>user\nHi there<turn|>\n\n\n  spaces\xe2\x96\x81' > $C/tokenizer/special
printf '\x00\xff\xfe\xc3(\xe2\x82 invalid utf-8 \xf0\x9f\x98\x80' > $C/tokenizer/invalid_utf8
printf '\x01\x00You are terse.\x00\x02Hello\x00\x03<|channel>thought\nhm<channel|>Hi\x00\x02 Again ' > $C/chat/conversation
printf '\x03<|channel>thought\nunterminated' > $C/chat/unterminated
printf '\x00\x05unknown role' > $C/chat/unknown_role
ls -l $C/*
