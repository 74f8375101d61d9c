"""IMDB for the Python side of bench/gpu/check.sh: the aclImdb tarball's reviews read with tarfile, and the
BERT uncased WordPiece tokenization greentune uses (tokenizers' BertWordPieceTokenizer, else transformers'
BertTokenizerFast, else `greentune tokenize` where Python has neither, as on Debian; all on the same vocab.txt),
so that every trainer sees the same token ids.

    from imdb_data import read_imdb, tokenize
    reviews = read_imdb("aclImdb_v1_labeled.tar.gz", "train")       # [(text, label)], 25,000 for train
    ids = tokenize([text for text, _ in reviews], "vocab.txt", 512)  # [[101, ..., 102]], truncated
"""
import json
import os
import random
import re
import subprocess
import tarfile
import tempfile

_REVIEW = re.compile(r"^(?:\./)?aclImdb/(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")


def read_imdb(tarball, split="train", limit=0, seed=42):
    """(text, label) of every review of split (train or test; label 1 pos, 0 neg) in a fixed order: sorted
    by file name. limit > 0 keeps that many, drawn with seed (the same subset for the same arguments)."""
    reviews = []
    with tarfile.open(tarball, "r:*") as archive:
        for member in archive:
            match = _REVIEW.match(member.name)
            if not member.isfile() or match is None or match.group(1) != split:
                continue
            text = archive.extractfile(member).read().decode("utf-8")
            reviews.append((member.name, text, 1 if match.group(2) == "pos" else 0))
    reviews.sort(key=lambda review: review[0])
    if limit and limit < len(reviews):
        reviews = random.Random(seed).sample(reviews, limit)
    return [(text, label) for _, text, label in reviews]


def read_reviews(data, split="train", limit=0, seed=42):
    """read_imdb for an aclImdb tarball; JSON lines {"text": ..., "label": 0|1} (the whole file, any split
    name) otherwise, limit drawn with seed as read_imdb draws it."""
    if not data.endswith(".jsonl"):
        return read_imdb(data, split, limit, seed)
    with open(data) as file:
        reviews = [(row["text"], int(row["label"])) for row in map(json.loads, file) if row]
    if limit and limit < len(reviews):
        reviews = random.Random(seed).sample(reviews, limit)
    return reviews


def tokenize(texts, vocab_file, max_length, greentune="greentune"):
    """Token ids with [CLS] and [SEP], truncated to max_length (the first max_length - 2 pieces).
    greentune: the CLI that tokenizes where neither tokenizers nor transformers is installed."""
    try:
        from tokenizers import BertWordPieceTokenizer

        tokenizer = BertWordPieceTokenizer(vocab_file, lowercase=True, clean_text=True,
                                           handle_chinese_chars=True, strip_accents=None)
        tokenizer.enable_truncation(max_length)
        return [encoding.ids for encoding in tokenizer.encode_batch(list(texts))]
    except ImportError:
        pass
    try:
        from transformers import BertTokenizerFast

        tokenizer = BertTokenizerFast(vocab_file=vocab_file, do_lower_case=True)
        return tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]
    except ImportError:
        return tokenize_with_greentune(texts, vocab_file, max_length, greentune)


def tokenize_with_greentune(texts, vocab_file, max_length, greentune):
    """tokenize's ids from `greentune tokenize` (JSON lines in, JSON lines {"ids": [...]} out)."""
    with tempfile.TemporaryDirectory() as scratch:
        texts_file, ids_file = os.path.join(scratch, "texts.jsonl"), os.path.join(scratch, "ids.jsonl")
        with open(texts_file, "w") as out:
            for text in texts:
                out.write(json.dumps({"text": text, "label": 0}) + "\n")
        subprocess.run([greentune, "tokenize", "--vocab", vocab_file, "--max-length", str(max_length),
                        "--input", texts_file, "--output", ids_file], check=True, stdout=subprocess.DEVNULL)
        with open(ids_file) as file:
            return [json.loads(line)["ids"] for line in file if line.strip()]


def length_buckets(lengths, batch_size, seed, pad_to_multiple=64, max_length=512, chunk_batches=50):
    """Batches of similar length: a seeded shuffle, then each chunk of chunk_batches batches sorted by length
    and cut into batches, the batches in a seeded random order. Returns [(indices, padded_length)]."""
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    batches = []
    chunk = batch_size * chunk_batches
    for start in range(0, len(order), chunk):
        part = sorted(order[start:start + chunk], key=lambda i: lengths[i])
        for first in range(0, len(part), batch_size):
            indices = part[first:first + batch_size]
            longest = max(lengths[i] for i in indices)
            padded = min(max_length, -(-longest // pad_to_multiple) * pad_to_multiple)
            batches.append((indices, max(padded, longest)))
    rng.shuffle(batches)
    return batches
