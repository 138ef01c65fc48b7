using Cai.Core.Generation;

namespace Cai.Inference;

/// <summary>
/// A language model as the CAI stages use it: the policy that answers, critiques and revises (SL-CAI), and the
/// feedback model whose option log-probabilities become soft labels (RL-CAI). Sampling and scoring come together
/// because both stages' models are the same network; <see cref="LanguageModelFactory"/> gives one per model folder,
/// in-process (<see cref="LocalTextModel"/>) or through the generation service (<see cref="GrpcTextModel"/>).
/// </summary>
public interface ILanguageModel : ITextModel, IOptionScorer
{
    /// <summary>The model folder (Hugging Face layout) this instance samples from, as it was named.</summary>
    string Model { get; }
}
