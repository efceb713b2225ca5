#include "token_set.h"

#include <algorithm>

namespace formgate {

TokenSet::TokenSet(std::vector<int32_t> ids, int32_t universe_count,
                   const std::vector<int32_t>& universe, int32_t vocab_size) {
  size_t n_words = (static_cast<size_t>(vocab_size) + 31) / 32;
  size_t members = ids.size();
  size_t outsiders = static_cast<size_t>(universe_count) - members;
  if (members <= n_words && members <= outsiders) {
    kind_ = kList;
    ids_ = std::move(ids);
  } else if (outsiders <= n_words) {
    kind_ = kComplement;
    ids_.reserve(outsiders);
    std::set_difference(universe.begin(), universe.end(), ids.begin(), ids.end(),
                        std::back_inserter(ids_));
  } else {
    kind_ = kBitset;
    bits_.assign(n_words, 0);
    for (int32_t id : ids) SetBit(bits_.data(), id);
  }
  ids_.shrink_to_fit();
}

void TokenSet::OrInto(uint32_t* words, const uint32_t* universe_bits, int32_t n_words) const {
  switch (kind_) {
    case kList:
      for (int32_t id : ids_) SetBit(words, id);
      break;
    case kBitset:
      for (int32_t w = 0; w < n_words; ++w) words[w] |= bits_[w];
      break;
    case kComplement: {
      // Walk the sorted outsiders word by word so no scratch bitset is needed.
      size_t k = 0;
      for (int32_t w = 0; w < n_words; ++w) {
        uint32_t add = universe_bits[w];
        while (k < ids_.size() && (ids_[k] >> 5) == w) add &= ~(1u << (ids_[k++] & 31));
        words[w] |= add;
      }
      break;
    }
  }
}

}  // namespace formgate
