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

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "automaton.h"
#include "stack_arena.h"
#include "formgate/tokenizer_info.h"
#include "token_set.h"
#include "token_trie.h"

namespace formgate {

struct StateMasks {
  TokenSet accepted;
  std::vector<int32_t> uncertain;  // sorted trie positions (TokenTrie::TokenAt)
};

class StatePrecheck;
struct LoopClosures;

// Which stack a precheck assumes below its state. kPlain: an unknown caller. For states of a
// counted repetition's body, the repetition's counter frame with an unlimited budget:
// kSaturated when the minimum is reached (the repetition may be left), kLooping when it is not
// (every completed iteration starts another).
enum PrecheckMode : uint8_t { kPlain = 0, kSaturated = 1, kLooping = 2 };

struct PrecheckKeyHash {
  size_t operator()(const std::vector<int32_t>& v) const {
    size_t h = v.size();
    for (int32_t x : v) h = h * 1000003u ^ static_cast<size_t>(static_cast<uint32_t>(x));
    return h;
  }
};

// Prechecks are computed lazily, the first time a matcher needs a state, and shared: states
// whose prechecks are provably equal (the same reachable part of their rule and the same
// bytes after it; typically copies of one inlined piece of grammar) get one StateMasks, and a
// walk below a first byte that ends in such a state is memoised for every later precheck.
// Compiling a grammar therefore costs no trie walk at all; Precompute() does them all up front
// for callers who want every mask to be fast from the first step.
//
// Thread-safe: lookups of computed entries are lock-free; computing one takes a mutex.
class MaskCache {
 public:
  MaskCache(const Automaton& a, const TokenizerInfo& tok);
  ~MaskCache();

  // nullptr for states that consume no byte.
  const StateMasks* ForState(int32_t s) const { return For(s, kPlain); }
  // For states of a counted repetition's body (nullptr otherwise): the sets under the counter
  // frame of `mode`. A matcher may use them for a frame with `remaining` more bytes before the
  // mode could change (the budget runs out, or the minimum is reached) if it re-checks
  // accepted tokens longer than `remaining` bytes (each non-empty iteration takes a byte).
  const StateMasks* For(int32_t s, PrecheckMode mode) const {
    if (!a_->HasBytes(s) || (mode != kPlain && !HasSaturated(s))) return nullptr;
    const StateMasks* m = slots_[mode][s].load(std::memory_order_acquire);
    return m ? m : Compute(s, mode);
  }
  // Whether For() would return without computing anything.
  bool IsComputed(int32_t s, PrecheckMode mode) const {
    if (!a_->HasBytes(s)) return true;
    return slots_[mode][s].load(std::memory_order_acquire) != nullptr;
  }
  bool HasSaturated(int32_t s) const {
    return a_->HasBytes(s) && a_->RuleRepeat(a_->StateRule(s)) >= 0;
  }
  // Computes every precheck now.
  void Precompute() const;
  // Whether the stack `top` of `arena` survives every token of trie node `node`'s subtree
  // because its top state stays inside a loop closure (a string body, say) for all of them.
  bool SubtreeSurvives(const StackArena& arena, int32_t top, int32_t node) const;
  // A repetition's closure DFA positioned at `top` with the iterations its counter has left,
  // for deciding tokens by counting iterations (see LoopClosures::CountedStart).
  struct Counted {
    const int8_t* next;  // next[q * 256 + b]: state, 8 + state when an iteration completes, -1
    const TokenTrie::Survival* table;
    const ByteSet* outside;  // outside[q]: bytes the closure cannot follow though the body can
    int32_t q;
    int32_t left;  // iterations that may complete and still start another
    int32_t need;  // iterations to complete before the repetition may be left (may be <= 0)
  };
  bool CountedStart(const StackArena& arena, int32_t top, Counted* out) const;

  const std::vector<uint32_t>& TextTokenBits() const { return text_bits_; }
  size_t MemoryBytes() const;
  int32_t NumComputed() const;

 private:
  const StateMasks* Compute(int32_t s, PrecheckMode mode) const;
  const StateMasks* ComputeLocked(int32_t s, PrecheckMode mode) const;
  int32_t CanonLocked(int32_t s) const;
  const LoopClosures& LoopsLocked() const;  // built on first use
  const LoopClosures& Loops() const;        // the same, without the mutex once built

  const Automaton* a_;
  const TokenizerInfo* tok_;
  std::vector<uint32_t> text_bits_;  // bitset of every text token (complement sets' universe)
  std::unique_ptr<std::atomic<const StateMasks*>[]> slots_[3];  // by PrecheckMode

  mutable std::mutex mu_;  // guards everything below
  mutable std::deque<StateMasks> store_;
  mutable std::vector<int32_t> canon_;  // per state: shared-precheck id, -1 none, -2 unknown
  mutable std::unordered_map<std::vector<int32_t>, int32_t, PrecheckKeyHash> canon_ids_;
  mutable std::vector<const StateMasks*> by_canon_;
  mutable std::vector<int32_t> key_index_;  // scratch for PrecheckKey
  mutable std::unique_ptr<LoopClosures> loops_;  // built once, then read without the mutex
  mutable std::atomic<const LoopClosures*> loops_ready_{nullptr};
  mutable std::unique_ptr<StatePrecheck> precheck_;
  mutable size_t bytes_ = 0;
};

}  // namespace formgate

#endif  // FORMGATE_MASK_CACHE_H_
