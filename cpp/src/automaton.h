// The grammar as a byte-level pushdown automaton.
//
// Every rule (plus one auxiliary rule per counted repetition) becomes a minimised DFA over the
// alphabet bytes ∪ {call rule R}. All rules' states share one numbering. A call edge
// s --call R--> ret means "push ret, run R from its start; when R reaches a final state it may
// return to ret". Counted repetitions X{m,n} with large bounds are call edges to X's auxiliary
// rule carrying a repeat id: the stack frame then holds an iteration counter instead of the
// automaton unrolling n copies, so {0,100000} costs one state.
//
// Byte transitions are a dense table over byte equivalence classes (bytes no state tells apart).
#ifndef FORMGATE_AUTOMATON_H_
#define FORMGATE_AUTOMATON_H_

#include <array>
#include <bitset>
#include <cstdint>
#include <string>
#include <vector>

#include "formgate/grammar.h"

namespace formgate {

struct CallEdge {
  int32_t rule;    // callee
  int32_t ret;     // state to continue at in the caller after the callee returns
  int32_t repeat;  // -1, or index into Automaton::repeats
};

struct RepeatInfo {
  int32_t min;  // >= 1 (X{0,n} is compiled as an optional X{1,n})
  int32_t max;  // >= min; unbounded repetition never uses a counter
};

using ByteSet = std::bitset<256>;

class Automaton {
 public:
  // Throws LimitError if a rule's DFA would exceed kMaxStatesPerRule or the total kMaxStates,
  // or, with max_growth > 0, max_growth times its NFA's states plus 1,000 (a blow-up: subset
  // construction of a trie or a literal never grows).
  static Automaton Build(const Grammar& g, int32_t max_growth = 0);

  int32_t NumStates() const { return static_cast<int32_t>(state_rule_.size()); }
  int32_t NumRules() const { return static_cast<int32_t>(rule_start_.size()); }
  int32_t Next(int32_t s, uint8_t byte) const {
    return next_[static_cast<size_t>(s) * num_classes_ + byte_class_[byte]];
  }
  int32_t NumByteClasses() const { return num_classes_; }
  // Bytes of one class have the same transitions from every state.
  int32_t ByteClass(uint8_t byte) const { return byte_class_[byte]; }
  int32_t NextByClass(int32_t s, int32_t byte_class) const {
    return next_[static_cast<size_t>(s) * num_classes_ + byte_class];
  }
  bool IsFinal(int32_t s) const { return final_[s]; }
  bool HasBytes(int32_t s) const { return has_bytes_[s]; }
  // Consumes bytes, calls nothing and cannot return: a step into it needs no closure.
  bool IsSimple(int32_t s) const { return simple_[s]; }
  bool HasCalls(int32_t s) const { return call_offsets_[s] != call_offsets_[s + 1]; }
  // Final, with nothing to consume or call: returning here only returns further, so a call
  // returning here needs no frame of its own (a tail call).
  bool IsTailReturn(int32_t s) const { return final_[s] && !has_bytes_[s] && !HasCalls(s); }
  const CallEdge* CallsBegin(int32_t s) const { return calls_.data() + call_offsets_[s]; }
  const CallEdge* CallsEnd(int32_t s) const { return calls_.data() + call_offsets_[s + 1]; }
  int32_t RuleStart(int32_t rule) const { return rule_start_[rule]; }
  int32_t StateRule(int32_t s) const { return state_rule_[s]; }
  const RepeatInfo& Repeat(int32_t k) const { return repeats_[k]; }
  // The repeat id whose body `rule` is (an auxiliary rule), or -1.
  int32_t RuleRepeat(int32_t rule) const { return rule_repeat_[rule]; }
  // The state every call of repeat k returns to, or -1 when determinisation gave it several.
  int32_t RepeatReturn(int32_t k) const { return repeat_return_[k]; }
  const std::string& RuleName(int32_t rule) const { return rule_names_[rule]; }
  // Bytes that may come right after `rule` returns, in any context. A token that leaves the
  // rule with remaining bytes whose next byte is outside this set is rejected without looking
  // at the stack ("context expansion" by one byte).
  const ByteSet& Follow(int32_t rule) const { return follow_[rule]; }
  // Bytes `s` can consume next, through calls too (the first byte of anything from `s` in its
  // rule), and whether `s` can reach its rule's end consuming nothing.
  const ByteSet& First(int32_t s) const { return first_[s]; }
  bool Nullable(int32_t s) const { return nullable_[s]; }
  // Bytes `s` can consume next, directly (no calls): the set of b with Next(s, b) >= 0.
  const ByteSet& DirectBytes(int32_t s) const { return direct_bytes_[s]; }
  int32_t Root() const { return 0; }
  size_t MemoryBytes() const;
  std::string Describe() const;  // debugging dump

 private:
  std::vector<int32_t> rule_start_;
  std::vector<std::string> rule_names_;
  std::vector<int32_t> state_rule_;
  std::vector<uint8_t> final_;
  std::vector<uint8_t> has_bytes_;
  std::vector<uint8_t> simple_;
  std::vector<int32_t> call_offsets_;
  std::vector<CallEdge> calls_;
  std::vector<RepeatInfo> repeats_;
  std::vector<int32_t> rule_repeat_;
  std::vector<int32_t> repeat_return_;
  std::array<uint8_t, 256> byte_class_{};
  int32_t num_classes_ = 1;
  std::vector<int32_t> next_;
  std::vector<ByteSet> follow_;
  std::vector<ByteSet> direct_bytes_;
  std::vector<ByteSet> first_;
  std::vector<uint8_t> nullable_;

  friend class AutomatonBuilder;
};

constexpr int32_t kMaxStatesPerRule = 100000;
constexpr int32_t kMaxStates = 2000000;
// Repetitions up to this many copies (and small enough bodies) are unrolled; larger ones use a
// counter frame.
constexpr int32_t kMaxUnrolledCopies = 8;
constexpr int32_t kMaxUnrolledSize = 256;
constexpr int32_t kMaxUnrolledMinOnlySize = 1024;  // x{m,}: see BuildRepeat

}  // namespace formgate

#endif  // FORMGATE_AUTOMATON_H_
