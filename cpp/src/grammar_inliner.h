// Rule inlining, run before building the automaton: every reference to a non-recursive rule
// whose (already inlined) body is small is replaced by that body. Inlined bodies are shared
// subtrees, not copies. This is what keeps token masks cheap: tokens that cross the boundary of
// a called rule are "uncertain" and checked at run time, while tokens inside one rule's DFA are
// decided at compile time, so folding `char` into `string` turns ~100k run-time checks per
// mask into none.
#ifndef FORMGATE_GRAMMAR_INLINER_H_
#define FORMGATE_GRAMMAR_INLINER_H_

#include "formgate/grammar.h"

namespace formgate {

// Callees whose automaton fragment stays within this node count are inlined: in tail position
// the fragment's DAG size (the automaton builder shares tail fragments within a rule),
// elsewhere its tree size. 0 inlines nothing. The result always has the root as rule 0 and only
// the rules reachable from it.
constexpr int64_t kMaxInlinedSize = 700;

Grammar InlineRules(const Grammar& g, int64_t max_inlined_size = kMaxInlinedSize);

}  // namespace formgate

#endif  // FORMGATE_GRAMMAR_INLINER_H_
