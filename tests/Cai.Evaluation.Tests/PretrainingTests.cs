using Cai.Modeling;
using Cai.Training.Pretraining;
using static TorchSharp.torch;

namespace Cai.Evaluation.Tests;

public sealed class PretrainingTests
{
    [Fact]
    public void PackingSeparatesDocumentsWithBosAndEosAndPredictsEveryToken()
    {
        int[][] documents = [[10, 11, 12], [20, 21], [30, 31, 32, 33]];
        var sequences = CausalLmPretrainer.Pack(documents, bosId: 1, eosId: 2, contextLength: 7, seed: 7);

        // 3 + 2 + 4 tokens plus BOS/EOS each = 15: two sequences of 8 that share one token.
        Assert.Equal(2, sequences.Count);
        Assert.All(sequences, s => Assert.Equal(8, s.Length));
        Assert.Equal(sequences[0][^1], sequences[1][0]);
        var stream = sequences[0].Concat(sequences[1].Skip(1)).ToList();
        Assert.Equal(1, stream[0]);
        Assert.Equal(2, stream[^1]);
        Assert.Equal(3, stream.Count(t => t == 1));
        Assert.Equal(3, stream.Count(t => t == 2));
        Assert.Equal(documents.SelectMany(d => d).Order(), stream.Where(t => t > 2).Order());
        Assert.Equal(sequences, CausalLmPretrainer.Pack(documents, 1, 2, 7, seed: 7));
        Assert.Throws<ArgumentException>(() => CausalLmPretrainer.Pack(documents, 1, 2, 15, seed: 7));
    }

    [Fact]
    public void TrainingIsDeterministicFromTheSeedAndLowersTheLoss()
    {
        // A repetitive toy language: a tiny model learns it within a few dozen steps.
        var random = new Random(5);
        var documents = Enumerable.Range(0, 200).Select(_ =>
        {
            int start = 4 + random.Next(6);
            return Enumerable.Range(0, 12).Select(j => start + j % 6).ToArray();
        }).ToList();
        var (lossA, weightsA) = Train(documents);
        var (lossB, weightsB) = Train(documents);

        Assert.Equal(lossA, lossB);
        Assert.True(weightsA.eq(weightsB).all().item<bool>(), "the same seed must give the same weights");
        Assert.True(lossA.Last < 0.5 * lossA.First, $"loss {lossA.First:F3} -> {lossA.Last:F3} should fall well below its start");
    }

    private static ((double First, double Last), Tensor Weights) Train(IReadOnlyList<int[]> documents)
    {
        var config = new LlamaConfig { HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 1, NumAttentionHeads = 2, NumKeyValueHeads = 2, VocabSize = 16, MaxPositionEmbeddings = 32, TieWordEmbeddings = true };
        using var model = new LlamaForCausalLM(config, seed: 3);
        var options = new PretrainingOptions { ContextLength = 32, BatchSize = 8, Epochs = 3, WarmupSteps = 5, LearningRate = 1e-2, CheckpointEvery = 0, Seed = 11 };
        var losses = new List<double>();
        var output = Directory.CreateTempSubdirectory("cai-pretrain-").FullName;
        try
        {
            new CausalLmPretrainer(model, options).Train(documents, bosId: 1, eosId: 2, output, new Recorder(p => losses.Add(p.Loss)));
            Assert.True(File.Exists(Path.Combine(output, Checkpoint.WeightsFile)));
            return ((losses[0], losses[^1]), model.Trunk.EmbeddingWeight.detach().clone());
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }

    private sealed class Recorder(Action<Training.TrainingProgress> report) : IProgress<Training.TrainingProgress>
    {
        public void Report(Training.TrainingProgress value) => report(value);
    }
}
