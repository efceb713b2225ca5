#include "automaton.h"
#include "formgate/compiler.h"
#include "grammar_inliner.h"
#include "mask_cache.h"

namespace formgate {

CompiledGrammar::CompiledGrammar(Grammar grammar, std::shared_ptr<const TokenizerInfo> tokenizer,
                                 bool precompute)
    : grammar_(std::move(grammar)), tokenizer_(std::move(tokenizer)) {
  automaton_ = std::make_unique<Automaton>(Automaton::Build(InlineRules(grammar_)));
  masks_ = std::make_unique<MaskCache>(*automaton_, *tokenizer_);
  if (precompute) masks_->Precompute();
}

void CompiledGrammar::Precompute() const { masks_->Precompute(); }

CompiledGrammar::~CompiledGrammar() = default;

size_t CompiledGrammar::MemoryBytes() const {
  return automaton_->MemoryBytes() + masks_->MemoryBytes();
}

}  // namespace formgate
