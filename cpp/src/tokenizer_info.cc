#include "formgate/tokenizer_info.h"

#include <stdexcept>

#include "token_trie.h"

namespace formgate {

TokenizerInfo::TokenizerInfo(std::vector<std::string> encoded_vocab, int32_t vocab_size,
                             std::vector<int32_t> stop_token_ids,
                             std::vector<int32_t> special_token_ids)
    : vocab_(std::move(encoded_vocab)),
      vocab_size_(vocab_size < 0 ? static_cast<int32_t>(vocab_.size()) : vocab_size),
      stop_ids_(std::move(stop_token_ids)),
      special_ids_(std::move(special_token_ids)) {
  if (vocab_size_ < static_cast<int32_t>(vocab_.size())) {
    throw std::invalid_argument("vocab_size " + std::to_string(vocab_size_) +
                                " is smaller than the vocabulary (" +
                                std::to_string(vocab_.size()) + " tokens)");
  }
  kind_.assign(vocab_size_, kNever);
  for (size_t i = 0; i < vocab_.size(); ++i) {
    if (!vocab_[i].empty()) kind_[i] = kText;
  }
  auto check = [&](int32_t id, const char* what) {
    if (id < 0 || id >= vocab_size_) {
      throw std::invalid_argument(std::string(what) + " id " + std::to_string(id) +
                                  " is outside [0, " + std::to_string(vocab_size_) + ")");
    }
  };
  for (int32_t id : special_ids_) {
    check(id, "special token");
    kind_[id] = kNever;
  }
  for (int32_t id : stop_ids_) {
    check(id, "stop token");
    kind_[id] = kStop;
  }
  std::vector<int32_t> text_ids;
  for (int32_t i = 0; i < static_cast<int32_t>(vocab_.size()); ++i) {
    if (kind_[i] == kText) text_ids.push_back(i);
  }
  trie_ = std::make_unique<TokenTrie>(vocab_, std::move(text_ids));
}

TokenizerInfo::~TokenizerInfo() = default;

size_t TokenizerInfo::MemoryBytes() const {
  size_t n = kind_.size() + trie_->MemoryBytes();
  for (const std::string& s : vocab_) n += s.size() + sizeof(std::string);
  return n;
}

}  // namespace formgate
