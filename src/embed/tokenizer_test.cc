#include "embed/tokenizer.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>

namespace rekall::embed {
namespace {

std::unique_ptr<Tokenizer> Small() {
  std::unique_ptr<Tokenizer> t;
  Status s = Tokenizer::FromVocab({"[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "hello", "world",
                                   ",", "!", "cafe", "中", "##s"},
                                  &t);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return t;
}

TEST(Tokenizer, WordPieceGreedyLongestMatch) {
  auto t = Small();
  EXPECT_EQ(t->Encode("unaffable"), (std::vector<int32_t>{2, 4, 5, 6, 3}));
  EXPECT_EQ(t->Encode("Hello, WORLD!"), (std::vector<int32_t>{2, 7, 9, 8, 10, 3}));
  // One unmatched piece makes the whole word [UNK].
  EXPECT_EQ(t->Encode("unx hello"), (std::vector<int32_t>{2, 1, 7, 3}));
}

TEST(Tokenizer, AccentsCaseAndCjk) {
  auto t = Small();
  EXPECT_EQ(t->Encode("CAFÉ"), (std::vector<int32_t>{2, 11, 3}));
  EXPECT_EQ(t->Encode("cafe\xcc\x81"), (std::vector<int32_t>{2, 11, 3}));  // e + combining acute
  EXPECT_EQ(t->Encode("中中"), (std::vector<int32_t>{2, 12, 12, 3}));
  EXPECT_EQ(t->PreTokenize("a中b"), (std::vector<std::string>{"a", "中", "b"}));
}

TEST(Tokenizer, CleaningAndSplitting) {
  auto t = Small();
  EXPECT_EQ(t->PreTokenize(std::string("he\0llo\x07 wo\trld", 14)), (std::vector<std::string>{"hello", "wo", "rld"}));
  EXPECT_EQ(t->PreTokenize("a\xc2\xa0" "b\xe3\x80\x80" "c"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(t->PreTokenize("x.y\xe2\x80\x94z"), (std::vector<std::string>{"x", ".", "y", "\xe2\x80\x94", "z"}));
  EXPECT_EQ(t->PreTokenize("$5"), (std::vector<std::string>{"$", "5"}));
  EXPECT_EQ(t->PreTokenize("zero\xe2\x80\x8bwidth"), (std::vector<std::string>{"zerowidth"}));  // Cf dropped
  EXPECT_TRUE(t->PreTokenize(" \t\n ").empty());
  // Private use (Co) is dropped, unassigned (U+0378, Cn) is kept as in HF.
  EXPECT_EQ(t->PreTokenize("a\xee\x80\x80" "b \xcd\xb8"), (std::vector<std::string>{"ab", "\xcd\xb8"}));
  EXPECT_EQ(t->Encode(""), (std::vector<int32_t>{2, 3}));
}

TEST(Tokenizer, LongWordsAndTruncation) {
  auto t = Small();
  std::string w100(100, 'x'), w101(101, 'x');
  EXPECT_EQ(t->Encode(w101), (std::vector<int32_t>{2, 1, 3}));
  EXPECT_EQ(t->Encode(w100), (std::vector<int32_t>{2, 1, 3}));  // no piece matches either
  std::string many;
  for (int i = 0; i < 50; ++i) many += "hello ";
  auto ids = t->Encode(many, 10);
  ASSERT_EQ(ids.size(), 10u);
  EXPECT_EQ(ids.front(), 2);
  EXPECT_EQ(ids.back(), 3);
  EXPECT_EQ(ids[8], 7);
  // Truncation inside a word's pieces keeps the first pieces.
  EXPECT_EQ(t->Encode("unaffable", 4), (std::vector<int32_t>{2, 4, 5, 3}));
}

TEST(Tokenizer, InvalidUtf8DoesNotCrash) {
  auto t = Small();
  // Lone continuation bytes, truncated sequences, overlongs, surrogates.
  const std::string bad[] = {"\x80", "hello\xff world", "\xe2\x82", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                             std::string("\xf0\x9f\x98", 3)};
  for (const auto& s : bad) {
    auto ids = t->Encode(s);
    ASSERT_GE(ids.size(), 2u);
    EXPECT_EQ(ids.front(), 2);
    EXPECT_EQ(ids.back(), 3);
  }
  // The invalid byte is dropped like U+FFFD: the words around it survive.
  EXPECT_EQ(t->Encode("hello\xff world"), (std::vector<int32_t>{2, 7, 8, 3}));
}

TEST(Tokenizer, LoadErrors) {
  std::unique_ptr<Tokenizer> t;
  Status s = Tokenizer::Load("/nonexistent/vocab.txt", &t);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  EXPECT_NE(s.message().find("/nonexistent/vocab.txt"), std::string::npos);
  EXPECT_FALSE(Tokenizer::FromVocab({"a", "b"}, &t).ok());
}

// Load reads the file as getline did: one token a line, ids by line number,
// a CR before the LF dropped, an empty line a token of its own, no token
// after a last LF, a last line without LF kept; the first of duplicate
// lines wins (HF).
TEST(Tokenizer, LoadReadsLinesAsGetline) {
  const std::string path = ::testing::TempDir() + "rekall_vocab_" + std::to_string(::getpid()) + ".txt";
  for (const char* tail : {"world", "world\n"}) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << "[PAD]\r\n[UNK]\r\n[CLS]\n[SEP]\n\nhello\nhello\n" << tail;
    std::unique_ptr<Tokenizer> t;
    Status s = Tokenizer::Load(path, &t);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(t->vocab_size(), 8u) << tail;
    EXPECT_EQ(t->unk_id(), 1);
    EXPECT_EQ(t->token(1), "[UNK]");
    EXPECT_EQ(t->token(4), "");
    EXPECT_EQ(t->token(6), "hello");
    EXPECT_EQ(t->Encode("hello world"), (std::vector<int32_t>{2, 5, 7, 3})) << tail;
    EXPECT_EQ(t->Encode("hellos"), (std::vector<int32_t>{2, 1, 3}));
  }
  std::remove(path.c_str());
}

TEST(Tokenizer, RealVocab) {
  std::unique_ptr<Tokenizer> t;
  Status s = Tokenizer::Load(std::string(REKALL_TEST_MODEL_DIR) + "/vocab.txt", &t);
  if (s.IsNotFound()) GTEST_SKIP() << "model folder absent: run scripts/setup.sh";
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(t->vocab_size(), 30522u);
  EXPECT_EQ(t->cls_id(), 101);
  EXPECT_EQ(t->sep_id(), 102);
  // Reference ids from the HF tokenizer of all-MiniLM-L6-v2.
  EXPECT_EQ(t->Encode("Hello, world!"), (std::vector<int32_t>{101, 7592, 1010, 2088, 999, 102}));
}

}  // namespace
}  // namespace rekall::embed
