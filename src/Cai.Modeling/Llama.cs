using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Cai.Modeling;

// The decoder-only transformer of the Llama family (Llama, Mistral, Qwen2), in one file, read
// bottom-up: RMSNorm, rotary position embeddings, attention, MLP, decoder layer, the trunk
// (LlamaModel) and the language model (LlamaForCausalLM). Field names are the Hugging Face
// parameter names, so a state dict's keys are the keys of a HF checkpoint.

/// <summary>Root-mean-square layer norm (no mean subtraction, no bias), computed in float32 as HF does.</summary>
public sealed class RMSNorm : nn.Module
{
    private readonly Parameter weight;
    private readonly double _eps;

    public RMSNorm(long size, double eps, Device device) : base(nameof(RMSNorm))
    {
        weight = new Parameter(ones(size, device: device));
        _eps = eps;
        RegisterComponents();
    }

    public Tensor Forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var x32 = x.to(ScalarType.Float32);
        var normed = x32 * (x32.pow(2).mean([-1], keepdim: true) + _eps).rsqrt();
        return (weight * normed.to(x.dtype)).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Rotary position embeddings exactly as HF Llama applies them: the head is split in two halves
/// (not interleaved pairs), frequency i of the first half pairs with the same i of the second.
/// </summary>
public static class Rotary
{
    /// <summary>cos and sin of shape (B, 1, T, headDim) for position ids (B, T), in <paramref name="dtype"/>.</summary>
    public static (Tensor Cos, Tensor Sin) CosSin(Tensor positionIds, int headDim, double theta, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var invFreq = new float[headDim / 2];
        for (int i = 0; i < invFreq.Length; i++) invFreq[i] = (float)(1.0 / Math.Pow(theta, 2.0 * i / headDim));
        var freqs = positionIds.to(ScalarType.Float32).unsqueeze(-1) * tensor(invFreq, device: positionIds.device);
        var emb = cat([freqs, freqs], -1).unsqueeze(1);
        return (emb.cos().to(dtype).MoveToOuterDisposeScope(), emb.sin().to(dtype).MoveToOuterDisposeScope());
    }

    /// <summary>(x1, x2) -> (-x2, x1) over the two halves of the last dimension.</summary>
    public static Tensor RotateHalf(Tensor x)
    {
        var half = x.shape[^1] / 2;
        return cat([-x.narrow(-1, half, half), x.narrow(-1, 0, half)], -1);
    }

    /// <summary>Rotates queries or keys (B, H, T, D) by their positions.</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin) => x * cos + RotateHalf(x) * sin;
}

/// <summary>Grouped-query causal self-attention: several query heads share one key/value head.</summary>
public sealed class LlamaAttention : nn.Module
{
    private readonly Linear q_proj, k_proj, v_proj, o_proj;
    private readonly int _heads, _kvHeads, _headDim;

    public LlamaAttention(LlamaConfig c, Device device) : base(nameof(LlamaAttention))
    {
        _heads = c.NumAttentionHeads;
        _kvHeads = c.NumKeyValueHeads;
        _headDim = c.HeadDim;
        q_proj = nn.Linear(c.HiddenSize, _heads * _headDim, hasBias: c.QkvBias, device: device);
        k_proj = nn.Linear(c.HiddenSize, _kvHeads * _headDim, hasBias: c.QkvBias, device: device);
        v_proj = nn.Linear(c.HiddenSize, _kvHeads * _headDim, hasBias: c.QkvBias, device: device);
        o_proj = nn.Linear(_heads * _headDim, c.HiddenSize, hasBias: c.OutputBias, device: device);
        RegisterComponents();
    }

    /// <param name="x">(B, T, C)</param>
    /// <param name="mask">boolean (B, 1, T, S), true where a query may attend a key; null with
    /// <paramref name="causal"/> for the plain causal case.</param>
    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask, bool causal, KvCache? cache, int layer)
    {
        long b = x.shape[0], t = x.shape[1];
        var q = q_proj.forward(x).view(b, t, _heads, _headDim).transpose(1, 2);
        var k = k_proj.forward(x).view(b, t, _kvHeads, _headDim).transpose(1, 2);
        var v = v_proj.forward(x).view(b, t, _kvHeads, _headDim).transpose(1, 2);
        q = Rotary.Apply(q, cos, sin);
        k = Rotary.Apply(k, cos, sin);
        if (cache is not null) (k, v) = cache.Append(layer, k, v);
        if (_kvHeads != _heads)
        {
            // Query head h reads key/value head h / (heads / kvHeads), as HF's repeat_kv does.
            k = k.repeat_interleave(_heads / _kvHeads, dim: 1);
            v = v.repeat_interleave(_heads / _kvHeads, dim: 1);
        }
        var y = F.scaled_dot_product_attention(q, k, v, mask, 0.0, causal);
        return o_proj.forward(y.transpose(1, 2).reshape(b, t, _heads * _headDim));
    }
}

/// <summary>SwiGLU feed-forward: down(silu(gate(x)) * up(x)).</summary>
public sealed class LlamaMLP : nn.Module
{
    private readonly Linear gate_proj, up_proj, down_proj;

    public LlamaMLP(LlamaConfig c, Device device) : base(nameof(LlamaMLP))
    {
        gate_proj = nn.Linear(c.HiddenSize, c.IntermediateSize, hasBias: false, device: device);
        up_proj = nn.Linear(c.HiddenSize, c.IntermediateSize, hasBias: false, device: device);
        down_proj = nn.Linear(c.IntermediateSize, c.HiddenSize, hasBias: false, device: device);
        RegisterComponents();
    }

    public Tensor Forward(Tensor x) => down_proj.forward(F.silu(gate_proj.forward(x)) * up_proj.forward(x));
}

/// <summary>Pre-norm transformer block: x + attn(norm(x)), then + mlp(norm(x)).</summary>
public sealed class LlamaDecoderLayer : nn.Module
{
    private readonly LlamaAttention self_attn;
    private readonly LlamaMLP mlp;
    private readonly RMSNorm input_layernorm, post_attention_layernorm;

    public LlamaDecoderLayer(LlamaConfig c, Device device) : base(nameof(LlamaDecoderLayer))
    {
        self_attn = new LlamaAttention(c, device);
        mlp = new LlamaMLP(c, device);
        input_layernorm = new RMSNorm(c.HiddenSize, c.RmsNormEps, device);
        post_attention_layernorm = new RMSNorm(c.HiddenSize, c.RmsNormEps, device);
        RegisterComponents();
    }

    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask, bool causal, KvCache? cache, int layer)
    {
        var h = x + self_attn.Forward(input_layernorm.Forward(x), cos, sin, mask, causal, cache, layer);
        return h + mlp.Forward(post_attention_layernorm.Forward(h));
    }
}

/// <summary>The transformer trunk (HF <c>model.*</c>): token embeddings, decoder layers, final norm.
/// Shared by the language model and by the scalar-head (preference / value) models.</summary>
public sealed class LlamaModel : nn.Module
{
    private readonly Embedding embed_tokens;
    private readonly ModuleList<LlamaDecoderLayer> layers;
    private readonly RMSNorm norm;

    public LlamaConfig Config { get; }

    public LlamaModel(LlamaConfig config, Device device) : base(nameof(LlamaModel))
    {
        Config = config.Validate();
        embed_tokens = nn.Embedding(config.VocabSize, config.HiddenSize, device: device);
        layers = nn.ModuleList(Enumerable.Range(0, config.NumHiddenLayers)
            .Select(_ => new LlamaDecoderLayer(config, device)).ToArray());
        norm = new RMSNorm(config.HiddenSize, config.RmsNormEps, device);
        RegisterComponents();
    }

    public Parameter EmbeddingWeight => embed_tokens.weight!;

    /// <summary>
    /// Final hidden states (B, T, C) after the last norm.
    /// </summary>
    /// <param name="inputIds">(B, T) token ids: the new tokens only when a cache holds the past.</param>
    /// <param name="attentionMask">(B, past + T), 1 for real tokens and 0 for (left) padding, over the
    /// cached and the new tokens; null when nothing is padded. Right padding needs no mask (causal
    /// attention never looks ahead): pass null and mask the loss instead, which keeps the fast path.</param>
    /// <param name="positionIds">(B, T); by default the count of real tokens before each token, so a
    /// left-padded prompt gets the same positions as the prompt alone.</param>
    /// <param name="cache">Keys and values of earlier tokens; this call appends the new ones.</param>
    public Tensor Forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? positionIds = null, KvCache? cache = null)
    {
        if (inputIds.dim() != 2) throw new ArgumentException($"inputIds must be (batch, time), got [{string.Join(", ", inputIds.shape)}].", nameof(inputIds));
        long b = inputIds.shape[0], t = inputIds.shape[1];
        long past = cache?.Length ?? 0, total = past + t;
        if (total > Config.MaxPositionEmbeddings)
            throw new ArgumentException($"Sequence length {total} exceeds max_position_embeddings {Config.MaxPositionEmbeddings}.", nameof(inputIds));
        if (attentionMask is not null && (attentionMask.dim() != 2 || attentionMask.shape[0] != b || attentionMask.shape[1] != total))
            throw new ArgumentException($"attentionMask must be ({b}, {total}) = (batch, cached + new tokens), got [{string.Join(", ", attentionMask.shape)}].", nameof(attentionMask));

        var device = inputIds.device;
        positionIds ??= attentionMask is not null
            ? (attentionMask.to(ScalarType.Int64).cumsum(-1) - 1).clamp_min(0).narrow(1, past, t)
            : arange(past, total, ScalarType.Int64, device).unsqueeze(0).expand(b, t);

        // The plain causal case uses SDPA's own causal path; padding or a cache with several new
        // tokens needs an explicit mask (SDPA's is_causal aligns to the top-left corner).
        Tensor? mask = null;
        bool causal = attentionMask is null && past == 0 && t > 1;
        if (attentionMask is not null || (past > 0 && t > 1))
        {
            var keyPos = arange(0, total, ScalarType.Int64, device).unsqueeze(0);
            var queryPos = arange(past, total, ScalarType.Int64, device).unsqueeze(1);
            var allowed = keyPos.le(queryPos).unsqueeze(0).unsqueeze(0);
            if (attentionMask is not null) allowed = allowed.logical_and(attentionMask.to(ScalarType.Bool).unsqueeze(1).unsqueeze(1));
            // A padding query would otherwise attend nothing (NaN): let every token see itself.
            mask = allowed.logical_or(keyPos.eq(queryPos).unsqueeze(0).unsqueeze(0));
        }

        var h = embed_tokens.forward(inputIds);
        var (cos, sin) = Rotary.CosSin(positionIds, Config.HeadDim, Config.RopeTheta, h.dtype);
        for (int i = 0; i < layers.Count; i++) h = layers[i].Forward(h, cos, sin, mask, causal, cache, i);
        cache?.Commit(t);
        return norm.Forward(h);
    }

    /// <summary>Normal(0, initializer_range) for matrices and embeddings, zero biases, unit norms.</summary>
    internal static void Initialize(nn.Module module, double std, Generator generator)
    {
        using var noGrad = no_grad();
        foreach (var (name, p) in module.named_parameters())
        {
            if (name.EndsWith("norm.weight", StringComparison.Ordinal)) p.fill_(1.0);
            else if (name.EndsWith(".bias", StringComparison.Ordinal)) p.zero_();
            else p.normal_(0.0, std, generator);
        }
    }
}

/// <summary>Output of a language-model forward pass.</summary>
/// <param name="Logits">(B, T', V) next-token logits, T' = T or the kept tail.</param>
/// <param name="Hidden">(B, T, C) final hidden states when asked for (for value heads), else null.</param>
public sealed record CausalLMOutput(Tensor Logits, Tensor? Hidden);

/// <summary>
/// The language model (HF <c>LlamaForCausalLM</c>): the trunk plus an LM head, optionally tied to
/// the token embeddings. In CAI terms this is the policy (the assistant), the feedback model and
/// the frozen reference model alike.
/// </summary>
public sealed class LlamaForCausalLM : nn.Module
{
    private readonly LlamaModel model;
    private readonly Linear? lm_head;

    public LlamaConfig Config { get; }

    /// <summary>A freshly initialised model on <paramref name="device"/> (CPU when null), float32.</summary>
    public LlamaForCausalLM(LlamaConfig config, Device? device = null, long seed = 0) : base(nameof(LlamaForCausalLM))
    {
        device ??= CPU;
        Config = config.Validate();
        model = new LlamaModel(config, device);
        if (!config.TieWordEmbeddings)
            lm_head = nn.Linear(config.HiddenSize, config.VocabSize, hasBias: false, device: device);
        RegisterComponents();
        using var generator = new Generator((ulong)seed, device);
        LlamaModel.Initialize(this, config.InitializerRange, generator);
    }

    public LlamaModel Trunk => model;

    /// <summary>The device the parameters live on.</summary>
    public Device Device => model.EmbeddingWeight.device;

    /// <summary>The dtype the parameters are in (float32 master weights, or bfloat16 for compute).</summary>
    public ScalarType DType => model.EmbeddingWeight.dtype;

    /// <param name="logitsToKeep">0: logits at every position; n: only at the last n positions (decoding needs 1).</param>
    public CausalLMOutput Forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? positionIds = null,
        KvCache? cache = null, int logitsToKeep = 0, bool returnHidden = false)
    {
        var h = model.Forward(inputIds, attentionMask, positionIds, cache);
        var tail = logitsToKeep > 0 && logitsToKeep < h.shape[1] ? h.narrow(1, h.shape[1] - logitsToKeep, logitsToKeep) : h;
        var logits = lm_head is not null ? lm_head.forward(tail) : F.linear(tail, model.EmbeddingWeight);
        return new CausalLMOutput(logits, returnHidden ? h : null);
    }

    /// <summary>An independent float32 copy (e.g. PPO's frozen reference model), on <paramref name="device"/> or this model's device.</summary>
    public LlamaForCausalLM Clone(Device? device = null)
    {
        var copy = new LlamaForCausalLM(Config, device ?? Device);
        Checkpoint.LoadInto(copy, named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter), "clone source");
        return copy;
    }

    /// <summary>Number of parameters (tied embeddings counted once).</summary>
    public long ParameterCount() => this.parameters().Sum(p => p.numel());
}
