// Compile-time token prechecks (the adaptive token mask cache).
//
// For every automaton state that can consume a byte, walk the token trie from a stack holding
// only that state above an unknown caller, and sort every text token into:
//   accepted  - some path consumes the whole token without leaving the state's rule (or leaves
//               it exactly at the token's end): allowed whatever the stack below holds;
//   uncertain - the only surviving paths return below the rule with bytes left over, and the
//               next byte may follow the rule somewhere in the grammar: the matcher re-checks
//               these against the real stack at run time;
//   rejected  - everything else: never allowed from this state.
// A rejected trie node skips its whole subtree. At run time the mask is the union of the
// accepted sets of the live states plus the uncertain tokens that pass the real stack.
#ifndef FORMGATE_MASK_CACHE_H_
#define FORMGATE_MASK_CACHE_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "automaton.h"
#include "formgate/tokenizer_info.h"
#include "token_set.h"

namespace formgate {

struct StateMasks {
  TokenSet accepted;
  std::vector<int32_t> uncertain;  // sorted trie positions (TokenTrie::TokenAt)
};

class MaskCache {
 public:
  MaskCache() = default;
  // Uses up to `threads` worker threads (states are independent).
  MaskCache(const Automaton& a, const TokenizerInfo& tok, int threads);

  // nullptr for states that consume no byte.
  const StateMasks* ForState(int32_t s) const {
    return index_[s] < 0 ? nullptr : &masks_[index_[s]];
  }
  // For states of a counted repetition's body: the sets when the counter frame right below has
  // reached its minimum and has budget for any token (kSaturatedCounter). A matcher may use them
  // for a frame with `remaining` iterations left if it re-checks accepted tokens longer than
  // `remaining` bytes (each non-empty iteration consumes a byte). nullptr if not applicable.
  const StateMasks* ForStateSaturated(int32_t s) const {
    return saturated_index_[s] < 0 ? nullptr : &masks_[saturated_index_[s]];
  }

  const std::vector<uint32_t>& TextTokenBits() const { return text_bits_; }
  size_t MemoryBytes() const;

 private:
  std::vector<int32_t> index_;
  std::vector<int32_t> saturated_index_;
  std::vector<StateMasks> masks_;
  std::vector<uint32_t> text_bits_;  // bitset of every text token (complement sets' universe)
};

}  // namespace formgate

#endif  // FORMGATE_MASK_CACHE_H_
