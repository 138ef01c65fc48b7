using Cai.Modeling;
using static TorchSharp.torch;

namespace Cai.Training.Ppo;

/// <summary>Where the value model's weights come from.</summary>
public enum ValueModelSource
{
    /// <summary>Trunk and head of the preference model: it already reads the reward's scale (OpenRLHF's default).</summary>
    PreferenceModel,

    /// <summary>The policy's trunk with a fresh scalar head: no preference model weights needed.</summary>
    Policy,
}

/// <summary>
/// PPO's critic: a transformer trunk with a scalar head giving V(s) for every prefix, i.e. the
/// expected return from each response position onward. Trained alongside the policy; the
/// baseline that turns rewards into advantages through <see cref="Gae"/>.
/// </summary>
public sealed class ValueModel
{
    /// <param name="model">A float32 scalar-head model; PPO updates its weights in place.</param>
    public ValueModel(ScalarHeadModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.parameters().Any(p => p.dtype != ScalarType.Float32))
            throw new ArgumentException("The value model's parameters must be float32 (PPO updates them directly).", nameof(model));
        Model = model;
    }

    public ScalarHeadModel Model { get; }

    /// <summary>A value model initialised as <paramref name="source"/> says.</summary>
    /// <param name="policy">The policy (its trunk is copied for <see cref="ValueModelSource.Policy"/>).</param>
    /// <param name="preferenceModel">Needed for <see cref="ValueModelSource.PreferenceModel"/>; its weights are copied, not shared.</param>
    /// <param name="seed">Initialises the fresh head of <see cref="ValueModelSource.Policy"/>.</param>
    public static ValueModel Create(ValueModelSource source, PolicyModel policy, ScalarHeadModel? preferenceModel, long seed = 0)
    {
        ArgumentNullException.ThrowIfNull(policy);
        switch (source)
        {
            case ValueModelSource.PreferenceModel:
                if (preferenceModel is null)
                    throw new ArgumentException("ValueModelSource.PreferenceModel needs the preference model.", nameof(preferenceModel));
                var copy = new ScalarHeadModel(preferenceModel.Config, preferenceModel.Device, seed);
                Checkpoint.LoadInto(copy, preferenceModel.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter), "preference model");
                return new ValueModel(copy);
            case ValueModelSource.Policy:
                var fromPolicy = new ScalarHeadModel(policy.Model.Config, policy.Model.Device, seed);
                fromPolicy.CopyTrunkFrom(policy.Model);
                return new ValueModel(fromPolicy);
            default:
                throw new ArgumentOutOfRangeException(nameof(source), source, "Unknown value model source.");
        }
    }

    /// <summary>(B, R) value of the state before each response token (read at the position that predicts it).</summary>
    /// <param name="sequences">(B, P + R) left-padded prompts followed by right-padded responses.</param>
    /// <param name="attentionMask">(B, P + R) 1 on real tokens.</param>
    public Tensor Values(Tensor sequences, Tensor attentionMask, int responseLength)
    {
        long total = sequences.shape[1];
        if (responseLength < 1 || responseLength >= total)
            throw new ArgumentOutOfRangeException(nameof(responseLength), responseLength, $"Must be in [1, {total - 1}] for sequences of {total} columns.");
        return Model.TokenValues(sequences, attentionMask).narrow(1, total - responseLength - 1, responseLength);
    }
}
