#!/usr/bin/env python3
"""Writes the parity fixture for rekall's C++ embedder.

Runs sentence-transformers on the local all-MiniLM-L6-v2 folder (offline) over
a fixed, varied set of texts and stores, for each text, the token ids the
Hugging Face tokenizer gives (truncated to 256) and the reference embedding.

    python3 -m venv /work/venv-ref
    /work/venv-ref/bin/pip install torch==2.13.0 sentence-transformers
    HF_HUB_OFFLINE=1 /work/venv-ref/bin/python tests/embed_parity/make_reference.py \
        [--model models/all-MiniLM-L6-v2] [--out tests/embed_parity/reference.json]

The output is deterministic for a given model and library version.
"""
import argparse
import json
import os
import random
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def texts():
    t = []
    # Short queries.
    t += [
        "how do I rebase a branch",
        "python list comprehension",
        "docker compose networking",
        "Why is my SQLite database locked?",
        "fix segfault in C++ destructor",
        "kubernetes pod CrashLoopBackOff",
        "git undo last commit",
        "rust borrow checker lifetime error",
        "semantic search embeddings",
        "What's the difference between TCP and UDP?",
        "regex for email",
        "a",
        "I",
        "OK",
        "?",
        "hello world",
        "HELLO WORLD",
        "Hello, World!",
        "unaffable",
        "supercalifragilisticexpialidocious",
        "pneumonoultramicroscopicsilicovolcanoconiosis",
        "tokenization of out-of-vocabulary words like zxqvbnm",
    ]
    # Empty / whitespace / control characters.
    t += [
        "",
        " ",
        "   \t\n  ",
        "\n\n\n",
        "\u00a0\u2003\u3000",
        "tab\tseparated\tvalues",
        "line one\r\nline two\rline three",
        "null\x00byte inside",
        "bell\x07 and escape\x1b[31mred\x1b[0m",
        "zero\u200bwidth\u200cjoiner\u200dtest",
        "soft\u00adhyphen",
        "replacement \ufffd char",
        "form\x0cfeed and vertical\x0btab",
        "next\u0085line",
        "bom\ufeffinside",
        "private use \ue000\uf8ff",
        "\x01\x02\x03",
        "line\u2028separator\u2029paragraph",
        "unassigned \U000e0001 tag and \u0378",
    ]
    # Accents, French, German, other Latin scripts.
    t += [
        "Café crème brûlée à la française",
        "Où est la bibliothèque ? Je ne sais pas.",
        "L'été dernier, nous sommes allés à Montréal.",
        "Ça m'a coûté très cher : 12,50 €.",
        "Élève, ÉCOLE, être, naïve, Noël, cœur, Œuvre",
        "Straße, Größe, Übermäßig, ÄÖÜ äöü",
        "español: ¿Dónde está el baño? ¡Señor!",
        "português: não, ação, coração",
        "Łódź, Kraków, Gdańsk, żółć",
        "Dvořák, Škoda, čeština",
        "İstanbul, ıslak, Iğdır",
        "Ἀθῆναι καὶ Σπάρτη",
        "ΣΊΣΥΦΟΣ σίσυφος",
        "Москва — столица России.",
        "Привет, как дела?",
        "Tiếng Việt có dấu: người, được, những",
        "e\u0301 decomposed vs \u00e9 composed",
        "A\u030a\u0323 combining order",
        "ﬁ ligature ﬂ and ﬀ",
        "ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３",
        "Ⅻ roman numeral, ½ fraction, ² superscript",
        "Å Ω K (angstrom, ohm, kelvin signs)",
    ]
    # CJK, Japanese, Korean, others.
    t += [
        "我爱自然语言处理。",
        "机器学习是人工智能的一个分支",
        "這是一個繁體中文的句子",
        "日本語のテキストです。",
        "東京は日本の首都です",
        "ひらがなとカタカナ、カンジ",
        "ｶﾀｶﾅ半角",
        "한국어 문장입니다",
        "서울특별시",
        "中文English混合mixed文本",
        "数字123和字母abc",
        "𠀀𠀁 extension B characters",
        "豈 更 compatibility ideographs",
        "العربية نص قصير",
        "עברית טקסט",
        "हिन्दी पाठ",
        "ภาษาไทย",
        "ქართული",
        "Ελληνικά και English",
    ]
    # Emoji and symbols.
    t += [
        "I love this 😀😃😄",
        "🚀 launch day! 🎉🎉",
        "👩‍💻 developer family 👨‍👩‍👧‍👦",
        "flags 🇫🇷🇯🇵",
        "thumbs 👍🏽 skin tone",
        "♥ ★ ☺ ✓ ✗ → ← ↑ ↓",
        "math: ∀x ∈ ℝ, ∃y: x² + y² ≥ 0 ∑∏∫",
        "currency $100 £50 ¥1000 €20 ₹500 ₿1",
        "©2024 ®™ §3 ¶2 †‡",
        "«guillemets» „quotes“ “curly” ‘single’",
        "em—dash en–dash hyphen-minus",
        "…ellipsis… and ‰ per mille",
    ]
    # Code snippets.
    t += [
        "int main() { return 0; }",
        "for (size_t i = 0; i < v.size(); ++i) sum += v[i];",
        "def foo(x: int) -> str:\n    return f\"{x:08d}\"",
        "SELECT id, name FROM users WHERE created_at > '2024-01-01' ORDER BY id DESC;",
        "const fetchData = async () => { const res = await fetch(url); return res.json(); };",
        "std::unique_ptr<Embedder> e = std::make_unique<Embedder>(opts);",
        "git log --oneline --graph --all | head -n 20",
        "$ export PATH=\"$HOME/.local/bin:$PATH\" && echo $PATH",
        "#include <vector>\n#define MAX(a,b) ((a)>(b)?(a):(b))",
        "<div class=\"container\"><p>Hello</p></div>",
        "{\"key\": [1, 2, 3], \"nested\": {\"a\": null, \"b\": true}}",
        "x = [i**2 for i in range(10) if i % 2 == 0]",
        "fn main() { let v: Vec<u32> = (0..10).collect(); println!(\"{:?}\", v); }",
        "CREATE INDEX IF NOT EXISTS idx_notes_ts ON notes(ts);",
        "kubectl get pods -n kube-system -o wide",
        "matrix[i][j] += a[i][k] * b[k][j];",
        "ptr->next->prev = ptr->prev; // unlink",
        "if err != nil { return fmt.Errorf(\"open %s: %w\", path, err) }",
        "@decorator\nclass Foo(Base, metaclass=Meta):\n    __slots__ = ('a',)",
        "a&&b||!c^d~e",
        "snake_case_identifier camelCaseIdentifier PascalCase SCREAMING_CASE",
        "0x7fffffff 0b1010 1e-12 3.14159 -42 +7",
    ]
    # URLs, paths, emails, numbers.
    t += [
        "https://github.com/user/repo/blob/main/src/embed/tokenizer.cc#L42",
        "see http://example.com/path?query=1&other=two#frag",
        "file:///home/user/notes/2024-05-01.md",
        "mailto:someone@example.org or john.doe+tag@sub.example.co.uk",
        "/usr/local/lib/python3.11/site-packages/torch/__init__.py",
        "C:\\Users\\Admin\\AppData\\Local\\Temp\\x.tmp",
        "192.168.0.1:8080 and [::1]:443",
        "version 1.2.3-rc.4+build.567",
        "1234567890",
        "3.141592653589793238462643383279",
        "1,000,000 and 1.000.000 and 1 000 000",
        "2024-11-25T09:30:00Z",
        "phone +33 1 23 45 67 89",
        "ISBN 978-3-16-148410-0",
        "UUID 123e4567-e89b-12d3-a456-426614174000",
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ]
    # Mixed punctuation.
    t += [
        "!!!???...",
        "Wait... what?! Really?!?",
        "(parentheses) [brackets] {braces} <angles>",
        "quote's and \"double\" and `backtick`",
        "a,b;c:d.e!f?g",
        "--verbose --dry-run -xvf",
        "~/.bashrc && source ~/.zshrc || true",
        "100% of 50% is 25%",
        "#hashtag @mention $cashtag",
        "***bold*** __underline__ ~~strike~~",
        "¿¡¡¿",
        "a-b_c.d/e\\f|g",
    ]
    # Paragraphs of developer notes.
    paragraphs = [
        "When the SQLite database is opened by several processes, writers take a RESERVED lock and then an EXCLUSIVE lock to commit. "
        "Enabling WAL mode lets readers continue while a writer appends to the log, which removes most 'database is locked' errors.",
        "To debug the memory leak, I ran the service under valgrind with --leak-check=full and found that the connection pool never "
        "released handles after a timeout. Wrapping them in a RAII guard fixed it.",
        "The embedding model maps sentences to 384-dimensional vectors. Similar notes end up close together under cosine similarity, "
        "so a query like 'how do I undo a commit' finds the note about git reset even without shared keywords.",
        "Note to self: the CI pipeline fails on ARM runners because the prebuilt wheel for onnxruntime is x86 only. Use the "
        "source build or skip those tests with a marker.",
        "Meeting notes 2024-03-12: we decided to ship the local-first version first, sync comes later. Alice owns the storage layer, "
        "Bob the search API. Open question: how to migrate existing JSON notes?",
        "La réunion de lundi a porté sur la migration vers PostgreSQL. Nous avons décidé de garder SQLite pour le mode local, "
        "car il ne demande aucune configuration et fonctionne très bien pour un seul utilisateur.",
        "In Rust, a value can have either one mutable reference or any number of immutable references at a time. The borrow "
        "checker enforces this at compile time, which prevents data races without a garbage collector.",
        "Kubernetes restarts a container when its liveness probe fails. If the application needs a long warm-up, set "
        "initialDelaySeconds or use a startup probe, otherwise the pod ends in CrashLoopBackOff.",
        "Le café de la gare est fermé le dimanche. On peut prendre un thé à l'hôtel en face, où le wifi est gratuit et rapide.",
        "机器学习模型需要大量的数据进行训练。在训练之前，我们通常会对数据进行清洗和预处理，以提高模型的准确性。",
        "東京の天気は今日は晴れです。明日は雨が降るかもしれませんので、傘を持っていってください。",
        "The quick brown fox jumps over the lazy dog. Pack my box with five dozen liquor jugs. How vexingly quick daft zebras jump!",
    ]
    t += paragraphs
    # Long texts over 256 tokens (truncation).
    t.append(" ".join(paragraphs[:6]) * 2)
    t.append("word " * 400)
    t.append("token" * 30)  # one long word split into many pieces
    t.append("a" * 150)  # over 100 chars: [UNK]
    t.append("x" * 100)  # exactly 100 chars
    t.append("déjà-vu " * 120)
    t.append("日本語" * 150)
    t.append(", ".join(str(i) for i in range(300)))
    t.append("😀" * 300)
    t.append("The end. " + "lorem ipsum dolor sit amet " * 60)
    # Generated variety (deterministic).
    rng = random.Random(1234)
    vocab = ("memory engine note search vector index query local first sqlite rust python c++ build test bug fix "
             "deploy server client cache latency thread lock mutex async await file path json config model token "
             "embedding cosine similarity rank score user commit branch merge rebase docker kernel").split()
    extras = ["é", "ü", "ß", "中", "日", "😀", "—", "…", "'", "\"", "(", ")", ",", ".", ":", ";", "!", "?", "#", "/",
              "123", "3.14", "v2", "HTTP/2", "e-mail", "don't", "it's", "O'Reilly", "naïve", "résumé"]
    while len(t) < 240:
        n = rng.randint(1, 60)
        words = []
        for _ in range(n):
            w = rng.choice(vocab) if rng.random() < 0.8 else rng.choice(extras)
            if rng.random() < 0.1:
                w = w.upper()
            elif rng.random() < 0.1:
                w = w.capitalize()
            words.append(w)
        sep = rng.choice([" ", " ", " ", "  ", "\n", "\t"])
        t.append(sep.join(words))
    return t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "all-MiniLM-L6-v2"))
    ap.add_argument("--out", default=os.path.join(HERE, "reference.json"))
    args = ap.parse_args()

    import sentence_transformers
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(0)
    model = SentenceTransformer(args.model, device="cpu")
    model.eval()
    assert model.max_seq_length == 256, model.max_seq_length
    items = []
    all_texts = texts()
    embs = model.encode(all_texts, batch_size=16, convert_to_numpy=True, normalize_embeddings=False)
    for text, emb in zip(all_texts, embs):
        feats = model.tokenize([text])  # exactly what encode() feeds the model
        ids = feats["input_ids"][0].tolist()
        items.append({"text": text, "ids": ids, "embedding": [float(f"{x:.7g}") for x in emb.tolist()]})
    out = {
        "model": os.path.basename(os.path.normpath(args.model)),
        "max_seq_length": model.max_seq_length,
        "dim": int(embs.shape[1]),
        "generator": {
            "sentence_transformers": sentence_transformers.__version__,
            "transformers": transformers.__version__,
            "torch": torch.__version__,
        },
        "items": items,
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    n_trunc = sum(1 for it in items if len(it["ids"]) == 256)
    print(f"wrote {len(items)} texts ({n_trunc} truncated) to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
