// GrammarMatcher: the per-request state of one generation under a compiled grammar.
//
// Contract: AcceptToken/AcceptBytes either consume the whole input and return true, or return
// false and leave the matcher exactly as it was. FillNextTokenBitmask sets bit j iff AcceptToken(j)
// would return true. Using a terminated matcher or an out-of-range token id throws
// std::invalid_argument. Not thread-safe; one matcher per sequence (Fork() to branch).
#ifndef FORMGATE_MATCHER_H_
#define FORMGATE_MATCHER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "formgate/compiler.h"

namespace formgate {

class MatcherState;

class GrammarMatcher {
 public:
  // max_rollback_tokens < 0: unlimited rollback.
  GrammarMatcher(std::shared_ptr<const CompiledGrammar> grammar, int32_t max_rollback_tokens);
  GrammarMatcher(const GrammarMatcher& other);
  GrammarMatcher& operator=(const GrammarMatcher&) = delete;
  ~GrammarMatcher();

  bool AcceptToken(int32_t token_id);
  // Counts as one step for Rollback.
  bool AcceptBytes(const std::string& bytes);
  // `words` has ceil(vocab_size / 32) entries.
  void FillNextTokenBitmask(uint32_t* words) const;
  bool IsTerminated() const;
  bool IsCompleted() const;
  void Rollback(int32_t n);
  void Reset();
  // The bytes every continuation must start with (empty if the input may end here). They may
  // begin or end inside a UTF-8 character when tokens split characters.
  std::string FindJumpForwardBytes() const;
  int32_t NumSteps() const;  // accepted tokens/strings that Rollback can undo
  const std::shared_ptr<const CompiledGrammar>& Grammar() const;

 private:
  std::unique_ptr<MatcherState> state_;
};

}  // namespace formgate

#endif  // FORMGATE_MATCHER_H_
