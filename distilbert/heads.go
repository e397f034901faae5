package distilbert

import (
	"fmt"
	"math"
)

// ProblemType says how a model's scores come from its logits: config.json's
// problem_type, which Hugging Face also uses to pick the training loss.
type ProblemType string

const (
	// SingleLabel is single_label_classification: a softmax over the
	// labels. It is the empty string so that single-label models, the
	// default, keep their JSON without a problem_type field.
	SingleLabel ProblemType = ""
	// MultiLabel is multi_label_classification: an independent sigmoid
	// per label.
	MultiLabel ProblemType = "multi_label_classification"
	// Regression gives the raw logits.
	Regression ProblemType = "regression"
)

const singleLabelName = "single_label_classification"

// parseProblemType resolves config.json's problem_type as Hugging Face's
// DistilBertForSequenceClassification does when none is set: regression
// for one label, single-label classification for more.
func parseProblemType(raw *string, labels int) (ProblemType, error) {
	if raw == nil || *raw == "" {
		if labels == 1 {
			return Regression, nil
		}
		return SingleLabel, nil
	}
	switch *raw {
	case singleLabelName:
		return SingleLabel, nil
	case string(MultiLabel), string(Regression):
		return ProblemType(*raw), nil
	}
	return "", fmt.Errorf("problem_type %q is not one of %q, %q, %q", *raw, singleLabelName, MultiLabel, Regression)
}

// String is the problem_type name, single_label_classification included.
func (p ProblemType) String() string {
	if p == SingleLabel {
		return singleLabelName
	}
	return string(p)
}

// scores turns one text's logits into its scores, in float64 so that
// confident scores do not round to exactly 1 and 0 early.
func (p ProblemType) scores(logits []float32) []float64 {
	switch p {
	case MultiLabel:
		s := make([]float64, len(logits))
		for i, v := range logits {
			s[i] = sigmoid64(float64(v))
		}
		return s
	case Regression:
		s := make([]float64, len(logits))
		for i, v := range logits {
			s[i] = float64(v)
		}
		return s
	}
	return softmax64(logits)
}

// sigmoid64 is 1/(1+e^-x), written so that neither branch overflows.
func sigmoid64(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// ProblemType says how the classifier's scores are made.
func (c *Classifier) ProblemType() ProblemType { return c.config.ProblemType }
