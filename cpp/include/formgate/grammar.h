// Grammar IR: rules whose bodies are expression trees over Unicode text.
//
// Expressions live in one flat vector owned by the Grammar and refer to each other by index, so a
// Grammar is a plain value (copyable, no pointers). Character classes are stored already
// normalised: sorted, merged code point ranges with negation applied. Every frontend (EBNF, and
// later regex, Lark, JSON Schema) produces this IR; the automaton compiler consumes it.
//
// Special-token terminals (kToken) name a token, not text, so a Grammar stays independent of any
// vocabulary: compiling resolves them against the TokenizerInfo (see compiler.h).
#ifndef FORMGATE_GRAMMAR_H_
#define FORMGATE_GRAMMAR_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace formgate {

struct SourcePos {
  int32_t line = 0;    // 1-based, 0 = unknown
  int32_t column = 0;  // 1-based, in code points
};

enum class ExprKind : uint8_t {
  kEmpty,      // the empty string
  kBytes,      // a literal (UTF-8 bytes)
  kCharClass,  // one code point from `ranges`
  kRuleRef,    // rule `rule`
  kSequence,   // children in order
  kChoice,     // one of children
  kRepeat,     // children[0] repeated min..max times (max = -1: unbounded)
  kToken,      // one special token: `token_id`, or (token_id = -1) the one named `bytes`
};

using CodepointRange = std::pair<uint32_t, uint32_t>;  // inclusive

struct Expr {
  ExprKind kind = ExprKind::kEmpty;
  int32_t rule = -1;  // kRuleRef
  int32_t min = 0;    // kRepeat
  int32_t max = 0;    // kRepeat
  int32_t token_id = -1;  // kToken given by id
  std::string bytes;  // kBytes; kToken given by name: the token's text
  std::vector<CodepointRange> ranges;  // kCharClass
  std::vector<int32_t> children;       // kSequence, kChoice, kRepeat
  SourcePos pos;
};

struct Rule {
  std::string name;
  int32_t body = -1;
  SourcePos pos;
};

class Grammar {
 public:
  std::vector<Rule> rules;
  std::vector<Expr> exprs;
  int32_t root = -1;

  int32_t AddExpr(Expr e) {
    exprs.push_back(std::move(e));
    return static_cast<int32_t>(exprs.size()) - 1;
  }
  int32_t FindRule(const std::string& name) const;
  // Normalised EBNF that Grammar::FromEbnf parses back to the same language.
  std::string ToString() const;

  // Parses GBNF/EBNF text (see docs/ebnf.md), checks it (undefined rules, left recursion, empty
  // language) and simplifies it. Throws GrammarError with the position of the problem.
  static Grammar FromEbnf(const std::string& text, const std::string& root = "root");
};

// How the printer writes a kToken expression: `<[ID]>`, `<|NAME|>` or `<[NAME]>`.
std::string SpecialTokenTerminal(const Expr& token);

// Largest id accepted in a special-token terminal `<[ID]>`.
constexpr int32_t kMaxTokenId = (1 << 24) - 1;
// Largest bound accepted in {m,n}; larger bounds are a LimitError.
constexpr int32_t kMaxRepetitionBound = 1000000;
// Deepest nesting of parentheses/repetitions the parser follows.
constexpr int32_t kMaxNestingDepth = 1000;

}  // namespace formgate

#endif  // FORMGATE_GRAMMAR_H_
