// Applying a token bitmask to a matrix of logits in place, on the CPU.
//
// Bit j of 32-bit word w in a bitmask row allows token 32*w + j. Every logit whose token is not
// allowed becomes -inf; columns at or beyond 32*bitmask_words (a logits row wider than the
// bitmask, e.g. a padded vocabulary) are masked too. Rows are processed independently, so the
// caller may split them across threads.
#ifndef FORMGATE_BITMASK_APPLY_H_
#define FORMGATE_BITMASK_APPLY_H_

#include <cstdint>

namespace formgate {

enum class LogitsDType { kFloat32, kFloat16, kBFloat16 };

// logits: row r starts at logits + r * row_stride elements; `vocab` columns are touched.
// bitmask: row r starts at bitmask + r * bitmask_row_stride words, `bitmask_words` words long.
void ApplyTokenBitmaskRow(void* logits_row, LogitsDType dtype, int64_t vocab,
                          const uint32_t* bitmask_row, int64_t bitmask_words);

}  // namespace formgate

#endif  // FORMGATE_BITMASK_APPLY_H_
