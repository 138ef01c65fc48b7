using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Cai.Modeling;

/// <summary>
/// A transformer trunk with a scalar head (<c>score.weight</c>, a bias-free linear map from the
/// hidden state to one number). In CAI terms: the preference model (one score per dialogue, read at
/// its last real token) and PPO's value model (one value per token). Saved in the HF layout of
/// <c>LlamaForSequenceClassification</c> with <c>num_labels = 1</c>: tensors <c>model.*</c> plus
/// <c>score.weight</c> of shape [1, hidden_size].
/// </summary>
public sealed class ScalarHeadModel : nn.Module
{
    public const string HeadTensorName = "score.weight";

    private readonly LlamaModel model;
    private readonly Linear score;

    public LlamaConfig Config { get; }

    /// <summary>A freshly initialised model on <paramref name="device"/> (CPU when null), float32.</summary>
    public ScalarHeadModel(LlamaConfig config, Device? device = null, long seed = 0) : base(nameof(ScalarHeadModel))
    {
        device ??= CPU;
        Config = config.Validate();
        model = new LlamaModel(config, device);
        score = nn.Linear(config.HiddenSize, 1, hasBias: false, device: device);
        RegisterComponents();
        using var generator = new Generator((ulong)seed, device);
        LlamaModel.Initialize(this, config.InitializerRange, generator);
    }

    public Device Device => model.EmbeddingWeight.device;

    /// <summary>One value per token, (B, T), float32.</summary>
    public Tensor TokenValues(Tensor inputIds, Tensor? attentionMask = null) =>
        score.forward(model.Forward(inputIds, attentionMask)).squeeze(-1).to(ScalarType.Float32);

    /// <summary>One value per sequence, (B), read at its last real token (works for left or right padding).</summary>
    public Tensor SequenceValues(Tensor inputIds, Tensor? attentionMask = null)
    {
        var values = TokenValues(inputIds, attentionMask);
        long t = inputIds.shape[1];
        if (attentionMask is null) return values.select(1, t - 1);
        var positions = arange(t, ScalarType.Int64, inputIds.device).unsqueeze(0);
        var last = (attentionMask.to(ScalarType.Int64) * positions).argmax(-1, keepdim: true);
        return values.gather(1, last).squeeze(1);
    }

    public void Save(string directory, ScalarType storeDtype = ScalarType.Float32) =>
        Checkpoint.SaveModule(this, Config, directory, storeDtype, "ForSequenceClassification", j => j["num_labels"] = 1);

    /// <summary>Loads a scalar-head checkpoint saved by <see cref="Save"/> (or by HF with num_labels = 1).</summary>
    public static ScalarHeadModel Load(string directory, Device? device = null)
    {
        var config = LlamaConfig.Load(Path.Combine(directory, Checkpoint.ConfigFile));
        var m = new ScalarHeadModel(config, device);
        Checkpoint.LoadInto(m, directory);
        return m;
    }

    /// <summary>
    /// A scalar-head model whose trunk is a language-model checkpoint and whose head is fresh: how a
    /// preference or value model starts from the pretrained (or SL-CAI) model. lm_head is dropped.
    /// </summary>
    public static ScalarHeadModel FromCausalLM(string directory, Device? device = null, long seed = 0)
    {
        var config = LlamaConfig.Load(Path.Combine(directory, Checkpoint.ConfigFile));
        var m = new ScalarHeadModel(config, device, seed);
        Checkpoint.LoadInto(m, directory, ignore: new HashSet<string> { "lm_head.weight" }, optional: new HashSet<string> { HeadTensorName });
        return m;
    }

    /// <summary>Copies the trunk of an in-memory language model (e.g. PPO's value model from the policy).</summary>
    public void CopyTrunkFrom(LlamaForCausalLM lm)
    {
        var source = lm.Trunk.named_parameters().ToDictionary(p => "model." + p.name, p => (Tensor)p.parameter);
        Checkpoint.LoadInto(this, source, "language model", optional: new HashSet<string> { HeadTensorName });
    }
}
