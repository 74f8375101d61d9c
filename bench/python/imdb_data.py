"""IMDB for the Python side of bench/gpu/check.sh: the aclImdb tarball's reviews read with tarfile, and the
BERT uncased WordPiece tokenization greentune uses (tokenizers' BertWordPieceTokenizer, else transformers'
BertTokenizerFast, both on the same vocab.txt), so that the three trainers see the same token ids.

    from imdb_data import read_imdb, tokenize
    reviews = read_imdb("aclImdb_v1_labeled.tar.gz", "train")       # [(text, label)], 25,000 for train
    ids = tokenize([text for text, _ in reviews], "vocab.txt", 512)  # [[101, ..., 102]], truncated
"""
import random
import re
import tarfile

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


def tokenize(texts, vocab_file, max_length):
    """Token ids with [CLS] and [SEP], truncated to max_length (the first max_length - 2 pieces)."""
    try:
        from tokenizers import BertWordPieceTokenizer

        tokenizer = BertWordPieceTokenizer(vocab_file, lowercase=True, clean_text=True,
                                           handle_chinese_chars=True, strip_accents=None)
        tokenizer.enable_truncation(max_length)
        return [encoding.ids for encoding in tokenizer.encode_batch(list(texts))]
    except ImportError:
        from transformers import BertTokenizerFast

        tokenizer = BertTokenizerFast(vocab_file=vocab_file, do_lower_case=True)
        return tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]


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
