#pragma once
// Private to the model module: the concrete classifiers behind make_classifier(), and the pieces
// DistilBERT and BERT share.

#include <torch/torch.h>

#include "greentune/model/classifier.hpp"

namespace greentune::model::detail {

SequenceClassifier make_distilbert(const ModelConfig& config);
SequenceClassifier make_bert(const ModelConfig& config);

// A module that only groups others under a Hugging Face name ("transformer", "encoder", "attention").
std::shared_ptr<torch::nn::Module> add_group(torch::nn::Module& parent, const std::string& name);

torch::Tensor activate(const torch::Tensor& x, Activation activation);

}  // namespace greentune::model::detail
