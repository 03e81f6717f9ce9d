#!/usr/bin/env python3
"""Fixtures for Tests/TextEncodingTests (needs transformers, sentence-transformers, torch; offline).

  texts.json          ~300 real item texts (Beauty titles; Scientific titles, brands, categories, long
                      descriptions; MovieLens plots) chosen for non-ASCII, HTML entities, length; plus edge cases
  tokens-minilm.json  the fast tokenizer's ids (truncated to the model's max_seq_length) of every text
  tokens-mpnet.json   the same for all-mpnet-base-v2
  embed-minilm.{json,f32}  sentence-transformers embeddings (float32 LE rows) of 50 of the texts listed in the
                      .json (real all-MiniLM-L6-v2)
  embed-mpnet.{json,f32}   the same for all-mpnet-base-v2
  tiny-bert/, tiny-mpnet/  randomly initialised 2-layer models (reduced vocabulary) saved as sentence-transformers
                      directories, with tiny-*.json: their ids and embeddings of all texts (exact-output tests that need
                      no download)
  buckets-mpnet.json  MPNet's relative-position bucket of every relative position in -600…600

Usage: scripts/make_text_fixtures.py [MODELS_DIR]  (default .build/text-models, filled by unpack_text_models.sh)
"""
import json, os, random, re, sys
import torch
from sentence_transformers import SentenceTransformer, models
from transformers import AutoTokenizer, BertConfig, BertModel, BertTokenizerFast, MPNetConfig, MPNetModel, MPNetTokenizerFast
from transformers.models.mpnet.modeling_mpnet import MPNetEncoder

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "TextEncodingTests", "Fixtures")
MODELS = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build", "text-models")
DATA = os.path.join(ROOT, "..", "shared", "datasets")
torch.manual_seed(0)
random.seed(0)

EDGE = [
    "", "   ", "Hello, World!", "naïve café résumé Ñandú Straße İstanbul ΣΑΣ ὀδυσσεύς",
    "日本語のテキスト 中文字符 한국어 텍스트", "emoji 😀🥰🫠 and ①②③ ﬁ ligature", "tabs\tand\nnewlines\r\nand\u00a0nbsp\u2028sep",
    "zero\u200bwidth soft\u00adhyphen bom\ufeff ctl\x07\x0b\x0c\x85 repl\ufffd", "private\ue000use tag\U000e0001s",
    "AT&amp;T &lt;b&gt;bold&lt;/b&gt; &quot;quoted&quot; &#39;apos&#39; &nbsp;", "<b>html</b> <br/> <p>para</p>",
    "[CLS] [SEP] [UNK] [PAD] [MASK] [cls] <s> </s> <pad> <unk> <UNK> <mask> a<mask>b",
    "a" * 101 + " " + "b" * 100, "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "$9.99 + 10% off!!! (limited) #1 best-seller @home ~/path a_b c|d e^f `g` {h} <i> =j",
    "e\u0301 versus \u00e9, \u212b versus \u00c5, ﬀ", "Ελληνικά Кириллица العربية עברית हिन्दी ไทย",
    "\U0002b830 \U0002b920 \u3400 \uf900 \U0002f800 ㄱ ア",
]

def item_texts():
    texts = []
    beauty = json.load(open(os.path.join(DATA, "amazon14-beauty", "Beauty.item.json")))
    titles = [v.get("title", "") for v in beauty.values() if v.get("title")]
    nonascii = [t for t in titles if any(ord(c) > 127 for c in t)]
    entity = [t for t in titles if re.search(r"&\w+;|&#\d+;", t)]
    texts += nonascii[:40] + entity[:20] + random.sample(titles, 80)
    sci = json.load(open(os.path.join(DATA, "amazon18-scientific", "Scientific.item.json")))
    recs = list(sci.values())
    descs = sorted((r.get("description", "") for r in recs), key=len, reverse=True)
    texts += descs[:15] + random.sample([d for d in descs if d], 25)
    texts += random.sample([r.get("title", "") for r in recs if r.get("title")], 30)
    texts += [r["brand"] for r in random.sample([r for r in recs if r.get("brand")], 10)]
    texts += [r["categories"] for r in random.sample([r for r in recs if r.get("categories")], 10)]
    texts += [t for t in (json.dumps(r) for r in recs) if re.search(r"&\w+;|&#\d+;", t)][:5]
    ml = json.load(open(os.path.join(DATA, "ml100k-posters", "ml100k.item.json")))
    plots = [v.get("description", "") for v in ml.values() if v.get("description")]
    texts += [p for p in plots if any(ord(c) > 127 for c in p)][:10] + random.sample(plots, 20)
    seen, unique = set(), []
    for t in texts:
        if t not in seen:
            seen.add(t); unique.append(t)
    return unique

def dump(name, value):
    with open(os.path.join(OUT, name), "w") as f:
        json.dump(value, f, ensure_ascii=False, separators=(",", ":"))

def round_rows(x):
    return [[float(f"{v:.7g}") for v in row] for row in x.tolist()]

def st_ids(model, texts):
    # Exactly what SentenceTransformer.encode feeds the transformer (its own tokenizer call and max_seq_length).
    return [model.tokenize([t])["input_ids"][0].tolist() for t in texts]

def tiny(kind, texts, real_dir):
    """A 2-layer random model whose vocabulary is the real one restricted to what the texts need (plus fallbacks)."""
    real = AutoTokenizer.from_pretrained(real_dir)
    inv = {i: t for t, i in real.get_vocab().items()}
    keep = set(inv[i] for ids in (real(t)["input_ids"] for t in texts) for i in ids)
    keep |= set(real.all_special_tokens)
    chars = set("".join(texts).lower())
    keep |= {t for t in real.get_vocab() if (len(t) == 1 and t in chars) or (t.startswith("##") and len(t) == 3 and t[2] in chars)}
    # Drop a third of the multi-piece tokens at random so WordPiece has to fall back to shorter pieces and [UNK].
    keep = {t for t in keep if len(t) <= 2 or t in real.all_special_tokens or random.random() > 0.33}
    vocab = {t: i for i, t in enumerate(sorted(keep, key=lambda t: real.get_vocab()[t]))}
    d = os.path.join(OUT, f"tiny-{kind}")
    os.makedirs(d, exist_ok=True)
    if kind == "bert":
        tok = BertTokenizerFast(vocab=vocab, do_lower_case=True)
        cfg = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                         intermediate_size=64, max_position_embeddings=64, layer_norm_eps=1e-12, pad_token_id=tok.pad_token_id)
        model = BertModel(cfg, add_pooling_layer=False)
    else:
        tok = MPNetTokenizerFast(vocab=vocab, do_lower_case=True)
        cfg = MPNetConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                          intermediate_size=64, max_position_embeddings=66, layer_norm_eps=1e-5,
                          pad_token_id=tok.pad_token_id, relative_attention_num_buckets=32)
        model = MPNetModel(cfg, add_pooling_layer=False)
    with torch.no_grad():
        for name, p in model.named_parameters():
            # Larger than the default init so every part (layer norms, biases, the relative bias) moves the output.
            p.copy_(torch.randn_like(p) * (0.3 if p.dim() > 1 else 0.5) + (1.0 if "LayerNorm.weight" in name else 0.0))
    model.save_pretrained(d, safe_serialization=True)
    tok.save_pretrained(d)
    transformer = models.Transformer(d, max_seq_length=48)
    st = SentenceTransformer(modules=[transformer, models.Pooling(32, "mean"), models.Normalize()], device="cpu")
    st.save(d)
    st = SentenceTransformer(d, device="cpu")
    emb = st.encode(texts, batch_size=16, convert_to_numpy=True)
    dump(f"tiny-{kind}.json", {"ids": st_ids(st, texts), "embeddings": round_rows(emb)})
    for junk in ["README.md", "config_sentence_transformers.json", "vocab.txt"]:
        p = os.path.join(d, junk)
        if os.path.exists(p): os.remove(p)

def main():
    os.makedirs(OUT, exist_ok=True)
    texts = EDGE + item_texts()
    dump("texts.json", texts)
    print(len(texts), "texts")
    for name, folder in [("minilm", "all-MiniLM-L6-v2"), ("mpnet", "all-mpnet-base-v2")]:
        st = SentenceTransformer(os.path.join(MODELS, folder), device="cpu")
        dump(f"tokens-{name}.json", st_ids(st, texts))
        # The first 35 (edge cases, Beauty titles) and the 15 longest Scientific descriptions: 50 texts.
        chosen = list(range(35)) + sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)[:15]
        emb = st.encode([texts[i] for i in chosen], batch_size=16, convert_to_numpy=True)
        dump(f"embed-{name}.json", {"texts": chosen, "dimension": int(emb.shape[1])})
        emb.astype("<f4").tofile(os.path.join(OUT, f"embed-{name}.f32"))
    tiny("bert", texts, os.path.join(MODELS, "all-MiniLM-L6-v2"))
    tiny("mpnet", texts, os.path.join(MODELS, "all-mpnet-base-v2"))
    rel = torch.arange(-600, 601)
    dump("buckets-mpnet.json", MPNetEncoder.relative_position_bucket(rel, num_buckets=32, max_distance=128).tolist())

if __name__ == "__main__":
    main()
