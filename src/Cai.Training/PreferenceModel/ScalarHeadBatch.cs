using Cai.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Cai.Training.PreferenceModel;

/// <summary>Scores a batch of whole dialogues with a scalar-head model: one number per dialogue,
/// read at its last token.</summary>
internal static class ScalarHeadBatch
{
    /// <summary>(N) float32 scores. Right padding with no attention mask: causal attention keeps
    /// the padding after a sequence from touching it, and the plain causal path is the fast one.</summary>
    public static Tensor Scores(ScalarHeadModel model, IReadOnlyList<int[]> sequences, int padId, out long tokens)
    {
        int length = sequences.Max(s => s.Length);
        var ids = new long[sequences.Count * length];
        Array.Fill(ids, padId);
        var last = new long[sequences.Count];
        tokens = 0;
        for (int b = 0; b < sequences.Count; b++)
        {
            var s = sequences[b];
            for (int t = 0; t < s.Length; t++) ids[b * length + t] = s[t];
            last[b] = s.Length - 1;
            tokens += s.Length;
        }
        var values = model.TokenValues(tensor(ids, [sequences.Count, length], device: model.Device));
        return values.gather(1, tensor(last, [sequences.Count, 1], device: model.Device)).squeeze(1).to(ScalarType.Float32);
    }
}
