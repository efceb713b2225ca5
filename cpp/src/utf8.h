// UTF-8 helpers: encode/decode code points, and compile a set of code point ranges into byte
// range sequences (the way RE2 and regex-syntax do) so that automata work on bytes.
#ifndef FORMGATE_UTF8_H_
#define FORMGATE_UTF8_H_

#include <cstdint>
#include <string>
#include <vector>

#include "formgate/grammar.h"

namespace formgate {

constexpr uint32_t kMaxCodepoint = 0x10FFFF;

void AppendUtf8(uint32_t cp, std::string* out);

// Decodes one code point at text[*i] and advances *i. Returns -1 (and advances one byte) on
// malformed UTF-8.
int32_t DecodeUtf8(const std::string& text, size_t* i);

// Sorts and merges ranges; removes surrogates (they have no UTF-8 encoding).
std::vector<CodepointRange> NormalizeRanges(std::vector<CodepointRange> ranges);
// Complement within the Unicode scalar values.
std::vector<CodepointRange> ComplementRanges(const std::vector<CodepointRange>& ranges);

// A sequence of 1-4 byte ranges matching exactly the UTF-8 encodings of a code point range.
struct ByteRange {
  uint8_t lo, hi;
};
using ByteRangeSeq = std::vector<ByteRange>;
std::vector<ByteRangeSeq> Utf8Sequences(const std::vector<CodepointRange>& ranges);

}  // namespace formgate

#endif  // FORMGATE_UTF8_H_
