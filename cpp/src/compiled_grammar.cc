#include "automaton.h"
#include "formgate/compiler.h"
#include "formgate/error.h"
#include "grammar_inliner.h"
#include "mask_cache.h"

namespace formgate {

namespace {

// See Automaton::Build: a rule built with its callees inlined may have at most this many DFA
// states per NFA state (plus 1,000) before the grammar is rebuilt with every rule separate.
constexpr int32_t kMaxInlinedGrowth = 8;

[[noreturn]] void FailAt(const Expr& x, const std::string& cause) {
  throw GrammarError("special token " + SpecialTokenTerminal(x) + ": " + cause, x.pos.line,
                     x.pos.column, "");
}

// Resolves each special-token terminal against the vocabulary and replaces it by the token's
// marker (see tokenizer_info.h), which only that token's bytes in the trie spell.
bool HasSpecialTokens(const Grammar& g) {
  for (const Expr& x : g.exprs) {
    if (x.kind == ExprKind::kToken) return true;
  }
  return false;
}

Grammar LowerSpecialTokens(const Grammar& g, const TokenizerInfo& tok) {
  Grammar out = g;
  for (Expr& x : out.exprs) {
    if (x.kind != ExprKind::kToken) continue;
    int32_t id = x.token_id;
    if (id < 0) {
      auto it = tok.SpecialTokens().find(x.bytes);
      if (it == tok.SpecialTokens().end()) {
        FailAt(x, "the tokenizer has no special token of that name");
      }
      id = it->second;
    } else if (id >= tok.VocabSize()) {
      FailAt(x, "id " + std::to_string(id) + " is outside the vocabulary [0, " +
                    std::to_string(tok.VocabSize()) + ")");
    }
    if (tok.IsStop(id)) {
      FailAt(x, "id " + std::to_string(id) +
                    " is a stop token; stop tokens are allowed wherever the grammar can end and "
                    "cannot be grammar terminals");
    }
    if (!tok.IsSpecialTerminal(id)) {
      FailAt(x, "id " + std::to_string(id) +
                    " is not a special token of the tokenizer (ordinary tokens match grammar "
                    "text; write it as a string)");
    }
    x.kind = ExprKind::kBytes;
    x.bytes = SpecialTokenMarker(id);
    x.token_id = -1;
  }
  return out;
}

}  // namespace

CompiledGrammar::CompiledGrammar(Grammar grammar, std::shared_ptr<const TokenizerInfo> tokenizer,
                                 bool precompute)
    : grammar_(std::move(grammar)), tokenizer_(std::move(tokenizer)) {
  Grammar lowered;
  const Grammar* source = &grammar_;
  if (HasSpecialTokens(grammar_)) {
    lowered = LowerSpecialTokens(grammar_, *tokenizer_);
    source = &lowered;
  }
  try {
    automaton_ =
        std::make_unique<Automaton>(Automaton::Build(InlineRules(*source), kMaxInlinedGrowth));
  } catch (const LimitError&) {
    // Inlining only speeds masks up, and folding callees into a caller can multiply the
    // caller's DFA (a `.* "a"` callee used twice in sequence): retry with every rule separate,
    // which can only hit a limit that the grammar's own rules hit. The first try stops at a
    // rule whose DFA outgrows its NFA, so a blow-up costs milliseconds, not the seconds that
    // reaching the absolute limit takes.
    automaton_ = std::make_unique<Automaton>(Automaton::Build(InlineRules(*source, 0)));
  }
  masks_ = std::make_unique<MaskCache>(*automaton_, *tokenizer_);
  if (precompute) masks_->Precompute();
}

void CompiledGrammar::Precompute() const { masks_->Precompute(); }

CompiledGrammar::~CompiledGrammar() = default;

size_t CompiledGrammar::MemoryBytes() const {
  return automaton_->MemoryBytes() + masks_->MemoryBytes();
}

}  // namespace formgate
