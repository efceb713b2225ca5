#include "formgate/bitmask_apply.h"

#include <algorithm>

namespace formgate {
namespace {

// -inf is written as raw bits, so half-precision types need no float conversion.
template <typename Bits>
void ApplyRow(Bits* row, Bits neg_inf, int64_t vocab, const uint32_t* mask, int64_t words) {
  int64_t covered = std::min<int64_t>(vocab, words * 32);
  int64_t full_words = covered / 32;
  // Most words of a real mask are all-zero (nothing allowed) or all-ones (everything allowed):
  // both are handled without looking at single bits.
  for (int64_t w = 0; w < full_words; ++w) {
    uint32_t m = mask[w];
    Bits* out = row + w * 32;
    if (m == 0xFFFFFFFFu) continue;
    if (m == 0) {
      std::fill(out, out + 32, neg_inf);
      continue;
    }
    uint32_t blocked = ~m;
    while (blocked) {
      out[__builtin_ctz(blocked)] = neg_inf;
      blocked &= blocked - 1;
    }
  }
  for (int64_t c = full_words * 32; c < covered; ++c) {
    if (!((mask[c >> 5] >> (c & 31)) & 1u)) row[c] = neg_inf;
  }
  if (vocab > covered) std::fill(row + covered, row + vocab, neg_inf);
}

}  // namespace

void ApplyTokenBitmaskRow(void* logits_row, LogitsDType dtype, int64_t vocab,
                          const uint32_t* bitmask_row, int64_t bitmask_words) {
  switch (dtype) {
    case LogitsDType::kFloat32:
      ApplyRow(static_cast<uint32_t*>(logits_row), 0xFF800000u, vocab, bitmask_row,
               bitmask_words);
      break;
    case LogitsDType::kFloat16:
      ApplyRow(static_cast<uint16_t*>(logits_row), static_cast<uint16_t>(0xFC00u), vocab,
               bitmask_row, bitmask_words);
      break;
    case LogitsDType::kBFloat16:
      ApplyRow(static_cast<uint16_t*>(logits_row), static_cast<uint16_t>(0xFF80u), vocab,
               bitmask_row, bitmask_words);
      break;
  }
}

}  // namespace formgate
