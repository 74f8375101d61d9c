"""Loads a model directory greentune saved (config.json, model.safetensors, vocab.txt, tokenizer_config.json)
with transformers' AutoModelForSequenceClassification and AutoTokenizer and compares its outputs with
greentune's own for the same texts. greentune predict prints probabilities, not logits, so the comparison is
of the probabilities and of the logit differences log(p_i / p_0) (logits up to the constant softmax ignores).

    python3 bench/python/load_in_transformers.py MODEL_DIR INPUT.json [--out OUT.json] [--device auto]

INPUT.json: {"texts": [...], "greentune": [<greentune predict's JSON line for each text>], "max_length": N,
             "tolerance": 1e-4}
"""
import argparse
import json
import math

import torch
import transformers
from transformers import AutoModelForSequenceClassification, AutoTokenizer


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model_dir")
    parser.add_argument("input")
    parser.add_argument("--out")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    with open(args.input) as file:
        given = json.load(file)
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device)
    model = AutoModelForSequenceClassification.from_pretrained(args.model_dir).to(device).eval()
    try:
        tokenizer = AutoTokenizer.from_pretrained(args.model_dir)
        tokenizer_note = f"AutoTokenizer: {type(tokenizer).__name__}"
    except Exception as error:  # noqa: BLE001 - record why, then use the vocab.txt directly
        from transformers import BertTokenizerFast

        tokenizer = BertTokenizerFast(vocab_file=f"{args.model_dir}/vocab.txt", do_lower_case=True)
        tokenizer_note = f"AutoTokenizer failed ({type(error).__name__}: {error}); BertTokenizerFast(vocab.txt)"
    encoded = tokenizer(given["texts"], truncation=True, max_length=given.get("max_length", 512), padding=True,
                        return_tensors="pt").to(device)
    with torch.no_grad():
        logits = model(**encoded).logits.float().cpu()
    labels = [model.config.id2label[i] for i in range(logits.shape[1])]
    probabilities = logits.softmax(-1)
    largest_probability, largest_logit, argmax_agrees = 0.0, 0.0, True
    rows = []
    for row, prediction in enumerate(given["greentune"]):
        theirs = [float(prediction["probabilities"][label]) for label in labels]
        differences = [abs(probabilities[row, i].item() - theirs[i]) for i in range(len(labels))]
        logit_gaps = [abs((logits[row, i] - logits[row, 0]).item() - math.log(theirs[i] / theirs[0]))
                      for i in range(len(labels))]
        largest_probability = max(largest_probability, *differences)
        largest_logit = max(largest_logit, *logit_gaps)
        hf_label = labels[int(logits[row].argmax())]
        argmax_agrees = argmax_agrees and hf_label == prediction["label"]
        rows.append({"text": given["texts"][row][:80], "transformers_logits": logits[row].tolist(),
                     "transformers_label": hf_label, "greentune_label": prediction["label"]})
    tolerance = given.get("tolerance", 1e-4)
    passed = largest_probability <= tolerance and largest_logit <= tolerance and argmax_agrees
    result = {"status": "pass" if passed else "fail",
              "reason": "" if passed else f"outputs differ beyond {tolerance} (or the labels disagree)",
              "compared": "probabilities and logit differences (greentune predict prints probabilities)",
              "texts": len(rows), "max_abs_probability_difference": largest_probability,
              "max_abs_logit_difference": largest_logit, "argmax_agrees": argmax_agrees, "tolerance": tolerance,
              "device": str(device), "transformers_version": transformers.__version__,
              "model_class": type(model).__name__, "tokenizer": tokenizer_note, "rows": rows}
    text = json.dumps(result, indent=2)
    if args.out:
        with open(args.out, "w") as out:
            out.write(text + "\n")
    print(text)
    raise SystemExit(0 if passed else 1)


if __name__ == "__main__":
    main()
